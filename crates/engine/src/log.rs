//! Log events: each phase's start and end, with counts and elapsed time, sent to the
//! host's callback (the Node layer forwards them to `onLog` or the console).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// One log event. `message` starts with `[<generator name>]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    pub level: Level,
    pub message: String,
    /// The phase this event belongs to (`connect`, `activity`, …), if any.
    pub phase: Option<String>,
    /// Milliseconds since the run started.
    pub elapsed_ms: f64,
    /// For a phase's end: how long the phase took, in milliseconds.
    pub phase_ms: Option<f64>,
}

pub type LogSink = Arc<dyn Fn(LogEvent) + Send + Sync>;

/// A run's logger: prefixes messages with the generator's name and measures time.
#[derive(Clone)]
pub struct Logger {
    prefix: String,
    sink: Option<LogSink>,
    started: Instant,
}

impl Logger {
    pub fn new(generator: &str, sink: Option<LogSink>) -> Self {
        Logger { prefix: format!("[{generator}]"), sink, started: Instant::now() }
    }

    /// A logger that drops every event.
    pub fn silent() -> Self {
        Self::new("silent", None)
    }

    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    pub fn log(&self, level: Level, phase: Option<&str>, message: impl AsRef<str>) {
        self.emit(level, phase, message.as_ref(), None);
    }

    pub fn info(&self, message: impl AsRef<str>) {
        self.log(Level::Info, None, message);
    }

    fn emit(&self, level: Level, phase: Option<&str>, message: &str, phase_ms: Option<f64>) {
        if let Some(sink) = &self.sink {
            sink(LogEvent {
                level,
                message: format!("{} {}", self.prefix, message),
                phase: phase.map(str::to_string),
                elapsed_ms: round_ms(self.elapsed_ms()),
                phase_ms: phase_ms.map(round_ms),
            });
        }
    }

    /// Awaits `work` (one query of `phase`) and logs, at debug level, how long it took: the
    /// queries of a phase run in parallel, so this shows which one a slow phase waited for.
    pub async fn timed<T>(&self, phase: &'static str, what: &str, work: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let output = work.await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        self.emit(Level::Debug, Some(phase), &format!("{phase}: {what} took {ms:.1} ms"), None);
        output
    }

    /// Logs the start of `phase`; call `end` on the result when it is done.
    pub fn phase(&self, phase: &'static str, what: &str) -> Phase {
        self.emit(Level::Info, Some(phase), &format!("{phase}: {what}"), None);
        Phase { logger: self.clone(), name: phase, started: Instant::now() }
    }
}

fn round_ms(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

/// A phase under way. `end` logs its end with a summary and the time it took.
pub struct Phase {
    logger: Logger,
    name: &'static str,
    started: Instant,
}

impl Phase {
    pub fn end(self, summary: impl AsRef<str>) -> f64 {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let summary = summary.as_ref();
        let message =
            format!("{}: done in {:.1} ms{}{}", self.name, ms, if summary.is_empty() { "" } else { ": " }, summary);
        self.logger.emit(Level::Info, Some(self.name), &message, Some(ms));
        round_ms(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn phases_log_start_and_end_with_prefix_and_timing() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink_events = events.clone();
        let logger = Logger::new("layer3-behavior", Some(Arc::new(move |e| sink_events.lock().unwrap().push(e))));
        let phase = logger.phase("activity", "reading");
        phase.end("12 rows");
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].message, "[layer3-behavior] activity: reading");
        assert!(events[1].message.starts_with("[layer3-behavior] activity: done in "));
        assert!(events[1].message.ends_with(" ms: 12 rows"));
        assert_eq!(events[1].phase.as_deref(), Some("activity"));
        assert!(events[1].phase_ms.is_some());
    }
}
