//! The library's error type. A variant exists where a caller branches on it (batch mode counts
//! failures, the CLI maps `Cancelled` to exit code 130); everything else carries its context as text.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input could not be opened or decoded.
    #[error("{path:?}: {message}")]
    Input { path: PathBuf, message: String },
    /// The input has no video stream (an audio file, a text file that FFmpeg probed, …).
    #[error("{path:?}: no video stream found")]
    NoVideoStream { path: PathBuf },
    /// A model that does not fit the contract, found before any frame is processed.
    #[error("model {path:?}: {message}")]
    Model { path: PathBuf, message: String },
    /// The output cannot or must not be written.
    #[error("{path:?}: {message}")]
    Output { path: PathBuf, message: String },
    /// Another run finished this output while this one worked; its file was left as it is.
    #[error("{path:?}: another run finished this output meanwhile; its file was left as it is")]
    FinishedElsewhere { path: PathBuf },
    /// ONNX Runtime could not be loaded or failed while running.
    #[error("{0}")]
    Runtime(String),
    /// The requested execution provider could not be registered.
    #[error("cannot use {requested}: {message}")]
    ExecutionProvider { requested: String, message: String },
    /// The user interrupted the run (Ctrl-C).
    #[error("interrupted")]
    Cancelled,
    /// A stage thread stopped because another stage failed first; never the root cause.
    #[error("pipeline stage disconnected")]
    Disconnected,
    /// A stage thread panicked.
    #[error("internal error in {thread} (this is a bug)")]
    WorkerPanicked { thread: String },
    /// The command line asks for something impossible or contradictory (exit code 2).
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// True for errors that only follow from another stage's failure; the pipeline reports the
    /// root cause instead of these.
    pub fn is_consequence(&self) -> bool {
        matches!(self, Error::Disconnected | Error::Cancelled)
    }

    pub fn input(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Input {
            path: path.into(),
            message: message.to_string(),
        }
    }

    pub fn output(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Output {
            path: path.into(),
            message: message.to_string(),
        }
    }

    pub fn model(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Model {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

impl From<ort::Error> for Error {
    fn from(e: ort::Error) -> Self {
        Error::Runtime(format!("ONNX Runtime: {e}"))
    }
}
