use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{EngineError, ErrorCode, Result};

/// A run's output directory, checked writable. The directories the run had to create are
/// removed again when this is dropped, if they are still empty, unless the run `keep`s them:
/// a run that fails or is cancelled leaves nothing on disk, not even an empty directory.
#[derive(Debug)]
pub struct OutputDir {
    path: PathBuf,
    /// Created by this run, deepest first.
    created: Vec<PathBuf>,
}

impl OutputDir {
    /// The directory, canonical.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory, made again if it is gone: another run that had created it may have
    /// removed it, empty, when that run failed or wrote nothing. What this makes again is this
    /// run's to remove.
    pub fn for_writing(&mut self) -> Result<&Path> {
        let missing = missing_ancestors(&self.path);
        fs::create_dir_all(&self.path).map_err(|e| {
            EngineError::new(
                ErrorCode::OutputDir,
                format!("outputDir {:?} could not be created: {e}", self.path.display()),
            )
        })?;
        for dir in missing {
            if !self.created.contains(&dir) {
                self.created.push(dir);
            }
        }
        Ok(&self.path)
    }

    /// Keeps the directories this run created.
    pub fn keep(mut self) {
        self.created.clear();
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        for dir in &self.created {
            match fs::remove_dir(dir) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // gone already
                // Stops at the first directory that is not empty (or cannot be removed).
                Err(_) => break,
                Ok(()) => {}
            }
        }
    }
}

/// `dir` and those of its ancestors that do not exist, deepest first.
fn missing_ancestors(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors().take_while(|d| !d.exists()).map(Path::to_path_buf).collect()
}

/// Creates the output directory if missing and checks that it is a writable directory.
pub fn prepare_output_dir(dir: &Path) -> Result<OutputDir> {
    let shown = dir.display();
    if dir.exists() && !dir.is_dir() {
        return Err(EngineError::new(
            ErrorCode::OutputDir,
            format!("outputDir {shown:?} exists and is not a directory; pass a directory path"),
        ));
    }
    // Absolute: the host may change its working directory while the run goes on.
    let absolute = std::path::absolute(dir)
        .map_err(|e| EngineError::new(ErrorCode::OutputDir, format!("outputDir {shown:?}: {e}")))?;
    let missing = missing_ancestors(&absolute);
    fs::create_dir_all(dir).map_err(|e| {
        EngineError::new(ErrorCode::OutputDir, format!("outputDir {shown:?} could not be created: {e}"))
    })?;
    // From here on, dropping `prepared` removes what was just created.
    let mut prepared = OutputDir { path: dir.to_path_buf(), created: missing };
    let probe = tempfile::Builder::new()
        .prefix(".audience-engine-probe.")
        .tempfile_in(dir)
        .map_err(|e| EngineError::new(ErrorCode::OutputDir, format!("outputDir {shown:?} is not writable: {e}")))?;
    drop(probe);
    prepared.path = fs::canonicalize(dir)
        .map_err(|e| EngineError::new(ErrorCode::OutputDir, format!("outputDir {shown:?}: {e}")))?;
    Ok(prepared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn output_dir_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "").unwrap();
        let e = prepare_output_dir(&file).unwrap_err();
        assert_eq!(e.code, ErrorCode::OutputDir);
        assert!(e.message.contains("is not a directory"), "{}", e.message);
    }

    #[test]
    fn created_directories_go_unless_kept() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("x/y");
        let prepared = prepare_output_dir(&nested).unwrap();
        assert!(prepared.path().is_dir());
        assert!(names(&nested).is_empty(), "the writability probe must not stay behind");
        drop(prepared);
        assert!(names(root.path()).is_empty(), "x/y were created by the run and are removed");

        prepare_output_dir(&nested).unwrap().keep();
        assert!(nested.is_dir());
    }

    #[test]
    fn a_directory_removed_by_another_run_is_made_again_for_writing() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("shared");
        let first = prepare_output_dir(&nested).unwrap();
        let second = prepare_output_dir(&nested).unwrap(); // found it: not its own
        drop(first); // the run that made it writes nothing: it goes
        assert!(!nested.exists());
        let mut second = second;
        assert!(second.for_writing().unwrap().is_dir());
        drop(second); // it wrote nothing either: what it made again goes too
        assert!(!nested.exists());
    }

    #[test]
    fn directories_that_existed_or_hold_files_stay() {
        let root = tempfile::tempdir().unwrap();
        drop(prepare_output_dir(root.path()).unwrap());
        assert!(root.path().is_dir(), "an existing directory is never removed");

        let nested = root.path().join("x/y");
        let prepared = prepare_output_dir(&nested).unwrap();
        fs::write(root.path().join("x/note"), "").unwrap();
        drop(prepared);
        assert_eq!(names(&root.path().join("x")), ["note"], "y is removed, x holds a file and stays");
    }
}
