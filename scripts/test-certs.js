'use strict';
// Test certificates for the TLS tests, made at test time with node-forge (no `openssl`
// CLI needed). Keys come from Node's own crypto (native and asynchronous, so the six
// keys are made in parallel in well under a second); node-forge builds and signs the
// X.509 certificates. Nothing is cached: every call makes a new CA.
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const forge = require('node-forge');

const DAY = 24 * 3600 * 1000;

function generateKey() {
  return new Promise((resolve, reject) => {
    crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (error, publicKey, privateKey) => {
      if (error) reject(error);
      else resolve(privateKey);
    });
  });
}

/** A Node KeyObject as the pair node-forge signs with. */
function forgeKeys(privateKey) {
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const forgePrivate = forge.pki.privateKeyFromPem(pem);
  return {
    privateKey: forgePrivate,
    publicKey: forge.pki.setRsaPublicKey(forgePrivate.n, forgePrivate.e),
  };
}

/** A random positive serial number of 16 bytes, as hex. */
function serialNumber() {
  const bytes = crypto.randomBytes(16);
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  return bytes.toString('hex');
}

function makeCertificate({ subjectCn, keys, issuer, extensions }) {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - DAY);
  cert.validity.notAfter = new Date(now + 365 * DAY);
  cert.setSubject([{ name: 'commonName', value: subjectCn }, { name: 'organizationName', value: 'audience-engine tests' }]);
  const issuerCert = issuer ? issuer.cert : cert;
  cert.setIssuer(issuerCert.subject.attributes);
  const all = [...extensions, { name: 'subjectKeyIdentifier' }];
  if (issuer) {
    all.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuer.cert.generateSubjectKeyIdentifier().getBytes() });
  }
  cert.setExtensions(all);
  cert.sign(issuer ? issuer.keys.privateKey : keys.privateKey, forge.md.sha256.create());
  return cert;
}

function makeCa(name, keys) {
  const cert = makeCertificate({
    subjectCn: name,
    keys,
    issuer: null,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  return { cert, keys };
}

function makeServerCert(hosts, keys, ca) {
  const altNames = hosts.map((host) => (net.isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }));
  return makeCertificate({
    subjectCn: hosts.find((host) => !net.isIP(host)) ?? hosts[0],
    keys,
    issuer: ca,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
}

function makeClientCert(user, keys, ca) {
  return makeCertificate({
    subjectCn: user,
    keys,
    issuer: ca,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
}

/**
 * Writes a test PKI into `dir` (created if missing) and returns the files' absolute paths:
 * - `caCert`: a CA ("audience-engine test CA");
 * - `serverCert`/`serverKey`: signed by it, CN = the first host name, subjectAltName = every
 *   entry of `hosts` (DNS names and IP addresses);
 * - `wrongHostCert`/`wrongHostKey`: signed by the same CA for `db.example.com` only;
 * - `otherCaCert`: an unrelated second CA;
 * - `clientCert`/`clientKey`: CN = `clientUser`, signed by the CA (for `hostssl … cert`);
 * - `clientKeyEncrypted`: the same client key encrypted with the passphrase `secret`
 *   (PEM "BEGIN ENCRYPTED PRIVATE KEY");
 * - `otherClientCert`/`otherClientKey`: CN = `clientUser`, signed by the other CA.
 * Certificates are PEM, mode 0644; keys are PKCS#8 PEM ("BEGIN PRIVATE KEY"), mode 0600.
 * @param {string} dir
 * @param {{ hosts?: string[], clientUser?: string }} [options]
 * @returns {Promise<{ caCert: string, serverCert: string, serverKey: string, wrongHostCert: string,
 *   wrongHostKey: string, otherCaCert: string, clientCert: string, clientKey: string,
 *   clientKeyEncrypted: string, otherClientCert: string, otherClientKey: string }>}
 */
async function makeCertificates(dir, { hosts = ['localhost', '127.0.0.1'], clientUser = 'postgres' } = {}) {
  if (!Array.isArray(hosts) || hosts.length === 0) throw new Error('makeCertificates: hosts must name at least one host');
  fs.mkdirSync(dir, { recursive: true });
  const root = path.resolve(dir);
  const [caKey, otherCaKey, serverKey, wrongHostKey, clientKey, otherClientKey] = await Promise.all(
    Array.from({ length: 6 }, generateKey),
  );
  const ca = makeCa('audience-engine test CA', forgeKeys(caKey));
  const otherCa = makeCa('audience-engine other test CA', forgeKeys(otherCaKey));
  const serverCert = makeServerCert(hosts, forgeKeys(serverKey), ca);
  const wrongHostCert = makeServerCert(['db.example.com'], forgeKeys(wrongHostKey), ca);
  const clientCert = makeClientCert(clientUser, forgeKeys(clientKey), ca);
  const otherClientCert = makeClientCert(clientUser, forgeKeys(otherClientKey), otherCa);

  const files = {};
  const writeCert = (name, file, cert) => {
    files[name] = path.join(root, file);
    fs.writeFileSync(files[name], forge.pki.certificateToPem(cert), { mode: 0o644 });
    fs.chmodSync(files[name], 0o644);
  };
  const writeKey = (name, file, pem) => {
    files[name] = path.join(root, file);
    fs.writeFileSync(files[name], pem, { mode: 0o600 });
    fs.chmodSync(files[name], 0o600);
  };
  const pkcs8 = (key) => key.export({ type: 'pkcs8', format: 'pem' });
  writeCert('caCert', 'ca.crt', ca.cert);
  writeCert('serverCert', 'server.crt', serverCert);
  writeKey('serverKey', 'server.key', pkcs8(serverKey));
  writeCert('wrongHostCert', 'wrong-host.crt', wrongHostCert);
  writeKey('wrongHostKey', 'wrong-host.key', pkcs8(wrongHostKey));
  writeCert('otherCaCert', 'other-ca.crt', otherCa.cert);
  writeCert('clientCert', 'client.crt', clientCert);
  writeKey('clientKey', 'client.key', pkcs8(clientKey));
  writeKey(
    'clientKeyEncrypted',
    'client-encrypted.key',
    clientKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }),
  );
  writeCert('otherClientCert', 'other-client.crt', otherClientCert);
  writeKey('otherClientKey', 'other-client.key', pkcs8(otherClientKey));
  return files;
}

module.exports = { makeCertificates };

if (require.main === module) {
  // `node scripts/test-certs.js DIR`: writes the files into DIR and prints their paths.
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/test-certs.js DIR');
    process.exit(2);
  }
  makeCertificates(dir).then(
    (files) => console.log(JSON.stringify(files, null, 2)),
    (error) => {
      console.error(`could not make the test certificates: ${error.message}`);
      process.exit(1);
    },
  );
}
