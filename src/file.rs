//! Reading a file that input names: a command-line argument, a path in a setting or an
//! environment variable, a path a job file's `file()` asks for, a file of a repository under
//! analysis. Such a path can name `/dev/zero`, a FIFO nobody writes to, a socket or a folder,
//! and a plain read of those never returns or never ends; so every such read goes through
//! here, which opens regular files only and reads at most a bound. This module owns that rule
//! and its messages, not what the callers do with the bytes.
//!
//! The file is opened without blocking and its kind is checked on the open file, so a FIFO is
//! refused rather than waited on, and a path swapped between a check and the open cannot slip
//! through. Stdin (`-` on the command line) is read with the same bound.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file named by input was not read.
#[derive(Debug)]
pub enum FileError {
    /// It could not be opened or read.
    Io {
        /// The path as given.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// It is not a regular file.
    NotRegular {
        /// The path as given.
        path: PathBuf,
        /// What it is, with its article: `a directory`, `a FIFO (named pipe)`.
        kind: &'static str,
    },
    /// It is larger than the caller reads.
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// The bound, in bytes.
        limit: u64,
    },
    /// It is not UTF-8 text.
    NotText {
        /// The path as given.
        path: PathBuf,
        /// Offset of the first byte that is not UTF-8.
        offset: usize,
    },
}

impl FileError {
    /// The path as given (`<stdin>` for stdin).
    pub fn path(&self) -> &Path {
        match self {
            FileError::Io { path, .. }
            | FileError::NotRegular { path, .. }
            | FileError::TooLarge { path, .. }
            | FileError::NotText { path, .. } => path,
        }
    }

    /// The reason alone, without the path (for messages that name the file elsewhere).
    pub fn reason(&self) -> String {
        match self {
            FileError::Io { source, .. } => source.to_string(),
            FileError::NotRegular { kind, .. } => format!("it is {kind}, not a regular file"),
            FileError::TooLarge { limit, .. } => {
                format!("it is larger than {limit} bytes, the most read for it")
            }
            FileError::NotText { offset, .. } => {
                format!("it is not UTF-8 text (byte {offset} starts an invalid sequence)")
            }
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.path().display(), self.reason())
    }
}

/// The system's reason is part of the message, so it is not given again as a source (an
/// error chain printed with `{:#}` would repeat it).
impl std::error::Error for FileError {}

/// Reads at most `limit` bytes of the regular file at `path`; a larger file is an error, not a
/// cut.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let (file, meta) = open(path)?;
    if meta.len() > limit {
        return Err(FileError::TooLarge { path: path.to_path_buf(), limit });
    }
    read_bounded(file, path, limit, meta.len())
}

/// [`read`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    text(read(path, limit)?, path)
}

/// Reads stdin, at most `limit` bytes; its name in messages is `<stdin>`.
pub fn read_stdin(limit: u64) -> Result<Vec<u8>, FileError> {
    read_bounded(std::io::stdin().lock(), Path::new("<stdin>"), limit, 0)
}

/// Whether `path` is a regular file: `false` when nothing is there, an error when something
/// else is (a folder, a FIFO: HCL's `fileexists` answers the same).
pub fn is_regular(path: &Path) -> Result<bool, FileError> {
    match std::fs::metadata(path) {
        Ok(meta) => check_kind(&meta, path).map(|()| true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(FileError::Io { path: path.to_path_buf(), source }),
    }
}

/// Opens `path` for reading if it is a regular file; the kind is checked on the open file.
pub fn open(path: &Path) -> Result<(File, Metadata), FileError> {
    let io = |source| FileError::Io { path: path.to_path_buf(), source };
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading waits for a writer unless it is non-blocking; on a
        // regular file the flag changes nothing.
        options.custom_flags(libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    {
        // Without a non-blocking open, the kind is checked before opening as well.
        check_kind(&std::fs::metadata(path).map_err(io)?, path)?;
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    check_kind(&meta, path)?;
    Ok((file, meta))
}

fn check_kind(meta: &Metadata, path: &Path) -> Result<(), FileError> {
    match not_regular(meta) {
        None => Ok(()),
        Some(kind) => Err(FileError::NotRegular { path: path.to_path_buf(), kind }),
    }
}

/// What the file is, in words with its article, when it is not a regular file (`a directory`,
/// `a FIFO (named pipe)`); `None` for a regular file.
pub fn not_regular(meta: &Metadata) -> Option<&'static str> {
    if meta.is_file() {
        return None;
    }
    Some(kind(meta))
}

fn kind(meta: &Metadata) -> &'static str {
    if meta.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
    }
    "not a file"
}

/// Reads `reader` to its end, failing once more than `limit` bytes come.
fn read_bounded(
    reader: impl Read,
    path: &Path,
    limit: u64,
    expected: u64,
) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::with_capacity(usize::try_from(expected.min(limit)).unwrap_or(0));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io { path: path.to_path_buf(), source })?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { path: path.to_path_buf(), limit });
    }
    Ok(bytes)
}

fn text(bytes: Vec<u8>, path: &Path) -> Result<String, FileError> {
    String::from_utf8(bytes).map_err(|err| FileError::NotText {
        path: path.to_path_buf(),
        offset: err.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_up_to_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("job.hcl");
        std::fs::write(&file, "job \"x\" {}\n").unwrap();
        assert_eq!(read_text(&file, 11).unwrap(), "job \"x\" {}\n");
        let err = read(&file, 10).unwrap_err();
        assert_eq!(err.reason(), "it is larger than 10 bytes, the most read for it");
        std::fs::write(&file, b"ok\xff").unwrap();
        assert_eq!(
            read_text(&file, 10).unwrap_err().reason(),
            "it is not UTF-8 text (byte 2 starts an invalid sequence)"
        );
        let missing = read(&dir.path().join("missing"), 10).unwrap_err();
        assert!(missing.to_string().starts_with("cannot read "), "{missing}");
        assert!(!is_regular(&dir.path().join("missing")).unwrap());
        assert!(is_regular(&file).unwrap());
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path(), 10).unwrap_err();
        assert_eq!(err.reason(), "it is a directory, not a regular file");
        assert_eq!(is_regular(dir.path()).unwrap_err().reason(), err.reason());
        #[cfg(unix)]
        {
            let err = read(Path::new("/dev/zero"), 10).unwrap_err();
            assert_eq!(err.reason(), "it is a character device, not a regular file");
            // Nobody ever writes to this FIFO: a blocking open would never return.
            let fifo = dir.path().join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
            assert!(made.success());
            let err = read(&fifo, 10).unwrap_err();
            assert_eq!(err.reason(), "it is a FIFO (named pipe), not a regular file");
            // Through a symlink, the same.
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&fifo, &link).unwrap();
            assert_eq!(read(&link, 10).unwrap_err().reason(), err.reason());
        }
    }
}
