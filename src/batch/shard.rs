//! Shards: `--shard K/N`, or the slice a scheduler (Kubernetes indexed Job, Slurm job array,
//! `VSTYLE_SHARD`) gives this process.

use std::fmt;

/// A deterministic slice of a batch: job `i` of the sorted list belongs to shard `i mod count`.
/// Every job is in exactly one shard, so shards never write the same output and together do the
/// whole batch; round-robin (rather than contiguous blocks) spreads a folder of long clips over
/// all shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    /// 0-based.
    pub index: usize,
    pub count: usize,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `K/N` with `0 <= K < N`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not K/N (shard K of N, counting from 0)"))?;
        let index: usize = k
            .trim()
            .parse()
            .map_err(|_| format!("{k:?} in {s:?} is not a shard number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?} in {s:?} is not a shard count"))?;
        Shard::new(index, count)
    }
}

impl Shard {
    /// # Errors
    /// A zero count or an index outside `0..count`.
    pub fn new(index: usize, count: usize) -> std::result::Result<Self, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard {index} does not exist among {count} (shards count from 0 to {})",
                count - 1
            ));
        }
        Ok(Self { index, count })
    }

    /// True when job `position` of the sorted batch belongs to this shard.
    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// This shard's jobs, in batch order.
    pub fn select<T: Clone>(&self, jobs: &[T]) -> Vec<T> {
        jobs.iter()
            .enumerate()
            .filter(|(i, _)| self.owns(*i))
            .map(|(_, j)| j.clone())
            .collect()
    }
}

/// The environment variable that gives the shard count to a Kubernetes indexed Job (set it to the
/// Job's `completions`), or overrides the count a scheduler gives.
pub const SHARD_COUNT_VAR: &str = "VSTYLE_SHARD_COUNT";
/// The environment variable that gives a whole shard, `K/N`, for any other scheduler.
pub const SHARD_VAR: &str = "VSTYLE_SHARD";

/// Where a shard came from, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSource {
    Flag,
    Vstyle,
    Kubernetes,
    Slurm,
}

impl fmt::Display for ShardSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShardSource::Flag => "--shard",
            ShardSource::Vstyle => SHARD_VAR,
            ShardSource::Kubernetes => "JOB_COMPLETION_INDEX (Kubernetes indexed Job)",
            ShardSource::Slurm => "SLURM_ARRAY_TASK_ID (Slurm job array)",
        })
    }
}

/// Reads the shard from a scheduler's environment, looked up through `var` (the process
/// environment in use; a map in tests). In order:
///
/// 1. `VSTYLE_SHARD=K/N`, for any scheduler.
/// 2. Kubernetes indexed Jobs: `JOB_COMPLETION_INDEX` is the index; the Job's pods are not told
///    the completion count, so `VSTYLE_SHARD_COUNT` must give it.
/// 3. Slurm job arrays: `SLURM_ARRAY_TASK_ID`, counted from `SLURM_ARRAY_TASK_MIN` in steps of
///    `SLURM_ARRAY_TASK_STEP` (default 1), of `SLURM_ARRAY_TASK_COUNT` shards (else derived from
///    `SLURM_ARRAY_TASK_MAX`). With `VSTYLE_SHARD_COUNT` the layout is pinned instead: the task
///    id is the shard number itself, so one task can be resubmitted alone (`--array=3`).
///
/// `Ok(None)` when none of these is set: the process runs the whole batch.
///
/// # Errors
/// A variable that is set but unusable; running the whole batch then would make every shard do
/// every job, so it is refused instead.
pub fn shard_from_env(
    var: impl Fn(&str) -> Option<String>,
) -> std::result::Result<Option<(Shard, ShardSource)>, String> {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let number = |name: &str| -> std::result::Result<Option<usize>, String> {
        get(name)
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("{name}={v:?} is not a whole number"))
            })
            .transpose()
    };
    if let Some(v) = get(SHARD_VAR) {
        let shard = v
            .parse::<Shard>()
            .map_err(|e| format!("{SHARD_VAR}: {e}"))?;
        return Ok(Some((shard, ShardSource::Vstyle)));
    }
    let count_override = number(SHARD_COUNT_VAR)?;
    if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = count_override.ok_or_else(|| {
            format!(
                "JOB_COMPLETION_INDEX is set but {SHARD_COUNT_VAR} is not: set it to the Job's completions (or pass --shard K/N)"
            )
        })?;
        let shard = Shard::new(index, count).map_err(|e| format!("JOB_COMPLETION_INDEX: {e}"))?;
        return Ok(Some((shard, ShardSource::Kubernetes)));
    }
    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        if let Some(count) = count_override {
            let shard = Shard::new(id, count).map_err(|e| {
                format!("SLURM_ARRAY_TASK_ID={id} with {SHARD_COUNT_VAR}={count}: {e}")
            })?;
            return Ok(Some((shard, ShardSource::Slurm)));
        }
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        let offset = id.checked_sub(min).ok_or_else(|| {
            format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")
        })?;
        if offset % step != 0 {
            return Err(format!(
                "SLURM_ARRAY_TASK_ID={id} is not on the array's step {step} from {min}; give --shard K/N"
            ));
        }
        let index = offset / step;
        let count = match (
            number("SLURM_ARRAY_TASK_COUNT")?,
            number("SLURM_ARRAY_TASK_MAX")?,
        ) {
            (Some(n), _) => n,
            (None, Some(max)) if max >= min => (max - min) / step + 1,
            _ => {
                return Err(format!(
                    "SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MAX; set {SHARD_COUNT_VAR} or pass --shard K/N"
                ));
            }
        };
        let shard = Shard::new(index, count).map_err(|e| {
            format!("SLURM_ARRAY_TASK_ID={id}: {e}; arrays given as lists (1,5,9) need --shard K/N")
        })?;
        return Ok(Some((shard, ShardSource::Slurm)));
    }
    Ok(None)
}
