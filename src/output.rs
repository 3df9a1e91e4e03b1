//! How an output file comes into being, so that a final name only ever holds a complete file,
//! whatever runs beside this one (two shards on a shared disk, a command started twice):
//!
//! - each run writes under its own temporary name, `name.partial-HOST-PID.ext` (the extension
//!   stays last: FFmpeg picks the container from it);
//! - the finished file is linked to its final name without replacing anything there (`-y`, or a
//!   job that redoes an incomplete output, replaces it atomically with a rename instead), so a
//!   run that finishes second sees the first run's file and leaves it;
//! - temporary files of runs that are gone (this machine's dead processes, or another machine's
//!   files untouched for a day) are cleaned up by the next run;
//! - an existing final file counts as done only when it opens as a complete file
//!   ([`looks_complete`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::{Error, Result};

/// The marker in temporary names.
const PARTIAL: &str = "partial";
/// Another machine's temporary file untouched for this long belongs to a run that is gone.
const FOREIGN_STALE: Duration = Duration::from_secs(24 * 3600);

/// This machine's name as it appears in temporary names: letters, digits, `-` and `_` only.
fn host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most buf.len() bytes into buf.
        let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
        let name = if ok {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(&buf[..end]).into_owned()
        } else {
            String::new()
        };
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(32)
            .collect();
        if clean.is_empty() {
            "host".into()
        } else {
            clean
        }
    })
}

/// The name's stem and extension as bytes: a name need not be UTF-8.
fn stem_and_ext(output: &Path) -> (&[u8], Option<&[u8]>) {
    use std::os::unix::ffi::OsStrExt;
    let stem = output.file_stem().map_or(&[][..], OsStrExt::as_bytes);
    let ext = output.extension().map(OsStrExt::as_bytes);
    (stem, ext)
}

/// The temporary name this process writes `output` under: `dir/name.partial-HOST-PID.ext`. It
/// can never be mistaken for a finished file, and two runs never share it.
pub fn partial_path(output: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStringExt as _;
    let (stem, ext) = stem_and_ext(output);
    let tag = format!("{PARTIAL}-{}-{}", host(), std::process::id());
    let mut name = [stem, b".", tag.as_bytes()].concat();
    if let Some(ext) = ext {
        name.extend([b".", ext].concat());
    }
    output.with_file_name(std::ffi::OsString::from_vec(name))
}

/// True for a temporary output of any run (`name.partial-HOST-PID.ext`, or the older
/// `name.partial.ext`), which is never an input nor a finished file.
pub fn is_partial_path(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return false;
    };
    name.split('.')
        .skip(1)
        .any(|part| part == PARTIAL || part.starts_with(&format!("{PARTIAL}-")))
}

/// The owner `(host, pid)` of a temporary name made by [`partial_path`], if it is one.
fn owner(name: &str) -> Option<(&str, u32)> {
    let tag = name
        .split('.')
        .find_map(|part| part.strip_prefix(&format!("{PARTIAL}-")))?;
    let (host, pid) = tag.rsplit_once('-')?;
    Some((host, pid.parse().ok()?))
}

/// True when a process `pid` runs on this machine.
fn alive(pid: u32) -> bool {
    // 0 and negative numbers name process groups, not processes.
    let Ok(pid) = libc::pid_t::try_from(pid)
        .map_err(drop)
        .and_then(|p| if p > 0 { Ok(p) } else { Err(()) })
    else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes the temporary files of `output` left by runs that are gone: this machine's files
/// whose process has ended, and other machines' files untouched for a day. Files of runs still
/// working are left alone, and so is anything not named by [`partial_path`] (`name.partial.ext`
/// may be the user's own file). Returns how many were removed.
pub fn remove_stale_partials(output: &Path) -> usize {
    let (stem, ext) = stem_and_ext(output);
    let dir = output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let prefix = [stem, b".", PARTIAL.as_bytes()].concat();
    let suffix = ext.map(|e| [b".", e].concat()).unwrap_or_default();
    let mut removed = 0;
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let name = std::os::unix::ffi::OsStrExt::as_bytes(file_name.as_os_str());
        if !name.starts_with(&prefix)
            || !name.ends_with(&suffix)
            || name.len() < stem.len() + 1 + suffix.len()
        {
            continue;
        }
        // `.partial-HOST-PID`: ASCII, whatever the name around it.
        let middle = String::from_utf8_lossy(&name[stem.len() + 1..name.len() - suffix.len()]);
        let stale = match owner(&middle) {
            Some((h, pid)) if h == host() => pid != std::process::id() && !alive(pid),
            Some(_) => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > FOREIGN_STALE),
            None => false,
        };
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Gives the finished temporary file `temp` its final name. With `replace`, an existing file
/// there is replaced atomically; without, the final name is taken only if free: a file that
/// another run put there meanwhile stays, and this run's copy is removed
/// ([`Error::FinishedElsewhere`]).
///
/// # Errors
/// [`Error::FinishedElsewhere`], or a failed rename/link.
pub fn commit(temp: &Path, final_path: &Path, replace: bool) -> Result<()> {
    let failed = |e: std::io::Error| {
        Error::output(
            final_path,
            format!("cannot give the finished file its name ({e})"),
        )
    };
    if replace {
        return std::fs::rename(temp, final_path).map_err(failed);
    }
    match std::fs::hard_link(temp, final_path) {
        Ok(()) => {
            let _ = std::fs::remove_file(temp);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(temp);
            Err(Error::FinishedElsewhere {
                path: final_path.to_path_buf(),
            })
        }
        // A file system without hard links: the rename cannot refuse to replace, so look first
        // (a run finishing in between could still be replaced by this complete file).
        Err(_) if !final_path.exists() => std::fs::rename(temp, final_path).map_err(failed),
        Err(_) => {
            let _ = std::fs::remove_file(temp);
            Err(Error::FinishedElsewhere {
                path: final_path.to_path_buf(),
            })
        }
    }
}

/// True when `path` opens as a complete media file: FFmpeg reads its header and index, finds a
/// video stream, and (for videos) a duration or frame count. A file cut off by a crash or left
/// half-written by an older version fails this (an MP4 without its index, a Matroska file
/// without its duration) and is redone by resume.
pub fn looks_complete(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    crate::init_ffmpeg();
    let Ok(input) = crate::decode::open_input(path) else {
        return false;
    };
    let Some(stream) = input.streams().best(ffmpeg_next::media::Type::Video) else {
        return false;
    };
    let format = input.format().name().to_string();
    let image = format.contains("image2") || format.ends_with("_pipe");
    image || input.duration() > 0 || stream.duration() > 0 || stream.frames() > 0
}

/// True when the packets of `path` reach the end it should have: the end its container states
/// (an MP4's index, a Matroska or AVI header, all written when the file was finished), or,
/// where the container states none (MPEG-TS, MPEG-PS: FFmpeg estimates the length from the
/// packets themselves), `expected()`, the seconds the input gives with the run's settings (`None`
/// when unknown: nothing to compare with). A finished file cut short afterwards (a copy that
/// stopped, a full disk) fails this and is redone by resume, as the same cut is found in inputs.
/// Only the last seconds are read. Pictures always pass.
pub fn reaches_its_end(path: &Path, expected: impl FnOnce() -> Option<f64>) -> bool {
    use ffmpeg_next::ffi;
    crate::init_ffmpeg();
    let Ok(mut input) = crate::decode::open_input(path) else {
        return false;
    };
    let format = input.format().name().to_string();
    if format.contains("image2") || format.ends_with("_pipe") {
        return true;
    }
    // SAFETY: plain field reads of an open format context.
    let (stated, start) = unsafe {
        let ctx = input.as_ptr();
        (
            (*ctx).duration_estimation_method
                == ffi::AVDurationEstimationMethod::AVFMT_DURATION_FROM_STREAM,
            (*ctx).start_time,
        )
    };
    let seconds = |t: i64| t as f64 / f64::from(ffi::AV_TIME_BASE);
    let start = if start == ffi::AV_NOPTS_VALUE {
        0.0
    } else {
        seconds(start)
    };
    // A stated length counts from 0 in some containers and from the first timestamp in others
    // (a Matroska file starting late states its last timestamp): measured from 0, the packets
    // reach it either way. The input's length counts from the start.
    let (claim, origin) = if stated && input.duration() > 0 {
        (seconds(input.duration()), 0.0)
    } else {
        match expected() {
            Some(e) => (e, start),
            None => return true,
        }
    };
    let video = input.streams().best(ffmpeg_next::media::Type::Video);
    let frame = video
        .as_ref()
        .map(|s| s.avg_frame_rate())
        .filter(|r| r.numerator() > 0 && r.denominator() > 0)
        .map_or(0.04, |r| {
            f64::from(r.denominator()) / f64::from(r.numerator())
        });
    // An AVI that lost its index has its lengths rebuilt from the packets there are, and its
    // audio header may count from another origin; its video header counts the frames written,
    // one per frame period (AVI has a constant rate).
    let frames = video.map_or(0, |s| s.frames());
    let claim = if format == "avi" && frames > 0 {
        frames as f64 * frame
    } else {
        claim
    };
    // Two frames, and a little more on long files (timestamps rounded by the container).
    let tolerance = 2.0 * frame + 0.01 * claim;
    let mut end = None;
    if claim > 4.0 {
        let target = ((origin + claim - 3.0) * f64::from(ffi::AV_TIME_BASE)) as i64;
        if input.seek(target, ..target).is_ok() {
            end = readable_end(&mut input, origin);
        }
    }
    if end.is_none() {
        // From the start: a short file, or a seek that found nothing.
        match crate::decode::open_input(path) {
            Ok(mut again) => end = readable_end(&mut again, origin),
            Err(_) => return false,
        }
    }
    end.is_some_and(|e| e + tolerance >= claim)
}

/// Where the last whole packet read from `input`'s position ends, in seconds from `origin`.
fn readable_end(input: &mut ffmpeg_next::format::context::Input, origin: f64) -> Option<f64> {
    let bases: Vec<_> = input.streams().map(|s| s.time_base()).collect();
    let mut end: Option<f64> = None;
    let mut packet = ffmpeg_next::Packet::empty();
    while packet.read(input).is_ok() {
        if packet.is_corrupt() {
            break;
        }
        let Some(tb) = bases.get(packet.stream()) else {
            continue;
        };
        if let Some(t) = packet.pts().or(packet.dts()) {
            let t = (t + packet.duration().max(0)) as f64 * f64::from(tb.numerator())
                / f64::from(tb.denominator());
            end = Some(end.map_or(t - origin, |e: f64| e.max(t - origin)));
        }
    }
    end
}

/// Temporary files that exist right now, so an abrupt exit (a second Ctrl-C) can remove them.
/// Owned here, next to the names; [`crate::encode::Sink`] registers and forgets its file.
static REGISTERED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary file for [`remove_registered`].
pub fn register(temp: &Path) {
    if let Ok(mut files) = REGISTERED.lock() {
        files.push(temp.to_path_buf());
    }
}

/// Forgets a temporary file that was committed or removed.
pub fn forget(temp: &Path) {
    if let Ok(mut files) = REGISTERED.lock() {
        files.retain(|p| p != temp);
    }
}

/// Removes every temporary output still registered; called on a forced exit. Uses `try_lock`:
/// a signal handler must not wait on a lock the interrupted code may hold.
pub fn remove_registered() {
    if let Ok(mut files) = REGISTERED.try_lock() {
        for f in files.drain(..) {
            let _ = std::fs::remove_file(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_keep_the_extension_and_name_their_owner() {
        let p = partial_path(Path::new("out/clip.mp4"));
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("clip.partial-") && name.ends_with(".mp4"),
            "{name}"
        );
        assert_eq!(owner(&name), Some((host(), std::process::id())));
        assert!(is_partial_path(&p));
        assert!(is_partial_path(Path::new("a/clip.partial.mkv")));
        assert!(!is_partial_path(Path::new("a/partial.mkv")));
        assert!(!is_partial_path(Path::new("a/clip.partially.mkv")));
    }

    #[test]
    fn stale_temporaries_go_and_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("clip.mp4");
        let legacy = dir.path().join("clip.partial.mp4");
        // A process that has ended: a dead run of this machine.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert!(!alive(gone) && alive(std::process::id()));
        let dead = dir
            .path()
            .join(format!("clip.partial-{}-{gone}.mp4", host()));
        let mine = partial_path(&out);
        let foreign = dir.path().join("clip.partial-elsewhere-1234.mp4");
        let other = dir.path().join("other.partial.mp4");
        for f in [&legacy, &dead, &mine, &foreign, &other] {
            std::fs::write(f, b"x").unwrap();
        }
        assert_eq!(remove_stale_partials(&out), 1);
        assert!(!dead.exists());
        assert!(
            legacy.exists(),
            "a name without a run's host and pid may be the user's"
        );
        assert!(mine.exists(), "this run's own file stays");
        assert!(foreign.exists(), "another machine's recent file stays");
        assert!(other.exists(), "another output's file stays");
    }

    #[test]
    fn a_final_name_is_taken_only_when_free_unless_replacing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.mp4");
        let temp = partial_path(&out);
        std::fs::write(&temp, b"first").unwrap();
        commit(&temp, &out, false).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"first");
        assert!(!temp.exists());
        std::fs::write(&temp, b"second").unwrap();
        assert!(matches!(
            commit(&temp, &out, false),
            Err(Error::FinishedElsewhere { .. })
        ));
        assert_eq!(
            std::fs::read(&out).unwrap(),
            b"first",
            "the other run's file stays"
        );
        assert!(!temp.exists(), "this run's copy is gone");
        std::fs::write(&temp, b"third").unwrap();
        commit(&temp, &out, true).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"third");
    }
}
