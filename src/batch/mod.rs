//! Batch planning: the command line's inputs → a sorted list of [`Job`]s, each an input and the
//! output it becomes, then the slice of that list this process runs.
//!
//! ```text
//! inputs ──discover──▶ Found (input, path under its argument) ──plan──▶ sorted Jobs
//!        ──shard──▶ this process's Jobs ──split_done──▶ to run + already done
//! ```
//!
//! Only [`discover`] looks at the file system (to list folders); naming, sharding and the shard
//! environment are pure functions, so every rule here is unit-tested without files. The order of
//! the steps matters for scale-out: the job list is sorted and sharded *before* finished jobs are
//! skipped, so every machine computes the same slices whatever it finds already done.
//!
//! A finished output is the "done" marker: outputs are written as `name.partial.ext` and renamed
//! only when complete (see [`crate::encode`]), so a file with the final name is never half-written
//! and a partial file is never taken for a finished one.
//!
//! [`discover`] lists the inputs, [`naming`] names and plans the outputs, [`shard`] takes this
//! process's slice.

pub mod discover;
pub mod naming;
pub mod shard;

use std::path::PathBuf;

pub use discover::*;
pub use naming::*;
pub use shard::*;

/// One input and the output it becomes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Job {
    pub input: PathBuf,
    pub output: PathBuf,
}

/// Jobs split by whether their final output exists.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub to_run: Vec<Job>,
    pub done: Vec<Job>,
}

/// Splits jobs into those to run and those already done (final output present). With `redo`
/// (`-y`) every job runs. Only the final name counts: a `name.partial.ext` left by a killed run
/// is never "done", and is overwritten when its job runs again.
pub fn split_done(jobs: Vec<Job>, redo: bool, mut done: impl FnMut(&Job) -> bool) -> Split {
    let mut split = Split::default();
    for j in jobs {
        if !redo && done(&j) {
            split.done.push(j);
        } else {
            split.to_run.push(j);
        }
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::collections::{HashMap, HashSet};
    use std::path::Path;

    fn found(root: &str, relative: &str) -> Found {
        Found {
            input: Path::new(root).join(relative),
            root: root.into(),
            relative: relative.into(),
        }
    }

    fn naming(out: Option<&str>, suffix: Option<&str>, format: Option<&str>) -> Naming {
        Naming {
            out_dir: out.map(PathBuf::from),
            suffix: suffix.map(String::from),
            format: format.map(String::from),
        }
    }

    #[test]
    fn folder_listings_take_videos_and_images_but_not_other_files_or_partials() {
        for yes in [
            "a.mp4", "b.MKV", "c.mov", "d.webm", "e.png", "f.JPG", "dir/g.ts",
        ] {
            assert!(is_media_path(Path::new(yes)), "{yes}");
        }
        for no in [
            "notes.txt",
            "a.partial.mp4",
            "a.partial",
            ".hidden.mp4",
            "._clip.mov",
            "noext",
            "song.mp3",
        ] {
            assert!(!is_media_path(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn outputs_mirror_the_tree_under_the_output_folder_without_a_suffix() {
        let n = naming(Some("out"), None, None);
        assert_eq!(
            output_path(&found("videos", "2024/day1/clip.mov"), &n, false),
            Path::new("out/2024/day1/clip.mov")
        );
        assert_eq!(
            output_path(&found("videos", "clip.mkv"), &n, false),
            Path::new("out/clip.mkv")
        );
    }

    #[test]
    fn outputs_beside_the_inputs_get_the_styled_suffix() {
        let none = naming(None, None, None);
        assert_eq!(
            output_path(&found("videos", "sub/clip.mp4"), &none, false),
            Path::new("videos/sub/clip_styled.mp4")
        );
        // -o naming the input folder itself counts as beside.
        let same = naming(Some("videos"), None, None);
        assert_eq!(
            output_path(&found("videos", "clip.mp4"), &same, true),
            Path::new("videos/clip_styled.mp4")
        );
    }

    #[test]
    fn suffix_and_format_change_the_name_but_images_stay_images() {
        let n = naming(Some("out"), Some("-scream"), Some("mkv"));
        assert_eq!(
            output_path(&found("in", "a/clip.mov"), &n, false),
            Path::new("out/a/clip-scream.mkv")
        );
        assert_eq!(
            output_path(&found("in", "a/photo.jpg"), &n, false),
            Path::new("out/a/photo-scream.jpg")
        );
        // An explicit empty suffix wins over the beside default.
        let n = naming(None, Some(""), Some("mkv"));
        assert_eq!(
            output_path(&found("in", "clip.mp4"), &n, false),
            Path::new("in/clip.mkv")
        );
    }

    #[test]
    fn an_input_without_an_extension_becomes_an_mp4() {
        let n = naming(Some("out"), None, None);
        assert_eq!(
            output_path(&found(".", "raw"), &n, false),
            Path::new("out/raw.mp4")
        );
    }

    #[test]
    fn jobs_are_sorted_by_input_and_duplicates_dropped() {
        let n = naming(Some("out"), None, None);
        let jobs = plan(
            vec![
                found("in", "b.mp4"),
                found("in", "a/z.mp4"),
                found("in", "a.mp4"),
                found("in", "b.mp4"),
            ],
            &n,
            |_| false,
        )
        .unwrap();
        let inputs: Vec<_> = jobs.iter().map(|j| j.input.clone()).collect();
        assert_eq!(
            inputs,
            [
                PathBuf::from("in/a/z.mp4"),
                "in/a.mp4".into(),
                "in/b.mp4".into()
            ]
        );
    }

    #[test]
    fn earlier_outputs_in_the_input_folder_are_not_taken_as_inputs() {
        let n = naming(None, None, None);
        let jobs = plan(
            vec![found("v", "a.mp4"), found("v", "a_styled.mp4")],
            &n,
            |_| false,
        )
        .unwrap();
        assert_eq!(
            jobs,
            [Job {
                input: "v/a.mp4".into(),
                output: "v/a_styled.mp4".into()
            }]
        );
    }

    #[test]
    fn an_output_over_its_own_input_is_a_usage_error() {
        let n = naming(Some("v"), Some(""), None);
        let e = plan(vec![found("v", "a.mp4")], &n, |_| true).unwrap_err();
        assert!(matches!(e, Error::Usage(_)), "{e}");
        assert!(e.to_string().contains("over itself"), "{e}");
    }

    #[test]
    fn two_inputs_with_one_output_are_a_usage_error() {
        let n = naming(Some("out"), None, Some("mp4"));
        let e = plan(vec![found("in", "a.mov"), found("in", "a.mkv")], &n, |_| {
            false
        })
        .unwrap_err();
        assert!(e.to_string().contains("would both be written"), "{e}");
        let n = naming(Some("out"), None, None);
        let e = plan(vec![found("x", "a.mp4"), found("y", "a.mp4")], &n, |_| {
            false
        })
        .unwrap_err();
        assert!(e.to_string().contains("out/a.mp4"), "{e}");
    }

    #[test]
    fn shards_partition_a_twenty_job_batch_exactly() {
        let n = naming(Some("out"), None, None);
        let all = plan(
            (0..20)
                .map(|i| found("in", &format!("d{}/clip{i:02}.mp4", i % 3)))
                .collect(),
            &n,
            |_| false,
        )
        .unwrap();
        assert_eq!(all.len(), 20);
        for count in [1, 2, 3, 7, 20, 32] {
            let mut seen = HashSet::new();
            let mut total = 0;
            for index in 0..count {
                let part = Shard::new(index, count).unwrap().select(&all);
                // Balanced: sizes differ by at most one.
                assert!(part.len() == 20 / count || part.len() == 20 / count + 1);
                total += part.len();
                for j in part {
                    assert!(seen.insert(j.output.clone()), "{j:?} in two shards");
                }
            }
            assert_eq!(total, 20, "count {count}");
            let every: HashSet<_> = all.iter().map(|j| j.output.clone()).collect();
            assert_eq!(seen, every, "count {count}");
        }
    }

    #[test]
    fn shards_do_not_depend_on_the_order_inputs_are_found_in() {
        let n = naming(Some("out"), None, None);
        let files: Vec<_> = (0..9).map(|i| found("in", &format!("{i}.mp4"))).collect();
        let mut reversed = files.clone();
        reversed.reverse();
        let a = Shard::new(1, 4)
            .unwrap()
            .select(&plan(files, &n, |_| false).unwrap());
        let b = Shard::new(1, 4)
            .unwrap()
            .select(&plan(reversed, &n, |_| false).unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn shard_flags_parse_k_of_n_from_zero() {
        assert_eq!("0/4".parse::<Shard>(), Ok(Shard { index: 0, count: 4 }));
        assert_eq!("3/4".parse::<Shard>(), Ok(Shard { index: 3, count: 4 }));
        assert!("4/4".parse::<Shard>().unwrap_err().contains("0 to 3"));
        assert!("1/0".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
        assert!("a/2".parse::<Shard>().is_err());
        assert_eq!(Shard { index: 2, count: 5 }.to_string(), "2/5");
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn shard(pairs: &[(&str, &str)]) -> std::result::Result<Option<(usize, usize)>, String> {
        shard_from_env(env(pairs)).map(|s| s.map(|(s, _)| (s.index, s.count)))
    }

    #[test]
    fn no_scheduler_variables_means_the_whole_batch() {
        assert_eq!(shard(&[]), Ok(None));
        assert_eq!(
            shard(&[("HOME", "/root"), ("JOB_COMPLETION_INDEX", "")]),
            Ok(None)
        );
    }

    #[test]
    fn kubernetes_indexed_jobs_take_the_completion_index_and_the_given_count() {
        assert_eq!(
            shard(&[("JOB_COMPLETION_INDEX", "3"), ("VSTYLE_SHARD_COUNT", "8")]),
            Ok(Some((3, 8)))
        );
        let (_, source) = shard_from_env(env(&[
            ("JOB_COMPLETION_INDEX", "0"),
            ("VSTYLE_SHARD_COUNT", "2"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(source, ShardSource::Kubernetes);
        // Without the count every pod would do every file: refused.
        assert!(
            shard(&[("JOB_COMPLETION_INDEX", "3")])
                .unwrap_err()
                .contains("VSTYLE_SHARD_COUNT")
        );
        assert!(shard(&[("JOB_COMPLETION_INDEX", "8"), ("VSTYLE_SHARD_COUNT", "8")]).is_err());
        assert!(shard(&[("JOB_COMPLETION_INDEX", "x"), ("VSTYLE_SHARD_COUNT", "8")]).is_err());
    }

    #[test]
    fn slurm_arrays_count_from_their_minimum() {
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_MAX", "3"),
            ]),
            Ok(Some((2, 4)))
        );
        // --array=1-10: ids 1..=10 are shards 0..=9.
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "10"),
            ]),
            Ok(Some((0, 10)))
        );
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "10"),
                ("SLURM_ARRAY_TASK_COUNT", "10"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
            ]),
            Ok(Some((9, 10)))
        );
        // --array=0-12:4 → ids 0, 4, 8, 12.
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "8"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_MAX", "12"),
                ("SLURM_ARRAY_TASK_STEP", "4"),
            ]),
            Ok(Some((2, 4)))
        );
        let (_, source) = shard_from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(source, ShardSource::Slurm);
    }

    #[test]
    fn slurm_arrays_that_do_not_map_to_shards_are_refused() {
        // A list (--array=1,5,9) has ids beyond its count.
        assert!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "9"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "9"),
            ])
            .unwrap_err()
            .contains("--shard")
        );
        assert!(shard(&[("SLURM_ARRAY_TASK_ID", "3")]).is_err());
        assert!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_MIN", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
            ])
            .is_err()
        );
    }

    #[test]
    fn the_explicit_variables_win_over_the_schedulers() {
        assert_eq!(
            shard(&[
                ("VSTYLE_SHARD", "1/3"),
                ("JOB_COMPLETION_INDEX", "0"),
                ("SLURM_ARRAY_TASK_ID", "0"),
            ]),
            Ok(Some((1, 3)))
        );
        // The count variable pins the layout: the task id is the shard, whatever the array's
        // own size (one task resubmitted alone, or several arrays for one batch).
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_COUNT", "8"),
                ("VSTYLE_SHARD_COUNT", "16"),
            ]),
            Ok(Some((5, 16)))
        );
        assert_eq!(
            shard(&[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_MIN", "3"),
                ("SLURM_ARRAY_TASK_MAX", "3"),
                ("SLURM_ARRAY_TASK_COUNT", "1"),
                ("VSTYLE_SHARD_COUNT", "8"),
            ]),
            Ok(Some((3, 8)))
        );
        assert!(shard(&[("VSTYLE_SHARD", "3")]).is_err());
    }

    #[test]
    fn finished_outputs_are_skipped_unless_redo_and_partials_never_count() {
        let jobs = vec![
            Job {
                input: "a.mp4".into(),
                output: "out/a.mp4".into(),
            },
            Job {
                input: "b.mp4".into(),
                output: "out/b.mp4".into(),
            },
        ];
        // Only b's partial file exists: b is not done.
        let on_disk: HashSet<PathBuf> = ["out/a.mp4", "out/b.partial.mp4"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let exists = |j: &Job| on_disk.contains(&j.output);
        let s = split_done(jobs.clone(), false, exists);
        assert_eq!(s.done, jobs[..1]);
        assert_eq!(s.to_run, jobs[1..]);
        let s = split_done(jobs.clone(), true, exists);
        assert_eq!(s.to_run, jobs);
        assert!(s.done.is_empty());
    }

    #[test]
    fn discovery_lists_folders_sorted_and_recurses_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("in");
        for f in [
            "b.mp4",
            "a.mkv",
            "notes.txt",
            "x.partial.mp4",
            "sub/c.mov",
            "sub/deeper/d.png",
            ".hidden/e.mp4",
            "out/old.mp4",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        let flat = discover(std::slice::from_ref(&root), false, None).unwrap();
        let rel: Vec<_> = flat.found.iter().map(|f| f.relative.clone()).collect();
        assert_eq!(rel, [PathBuf::from("a.mkv"), "b.mp4".into()]);
        assert_eq!(flat.skipped_folders, 2);

        let deep = discover(std::slice::from_ref(&root), true, Some(&root.join("out"))).unwrap();
        let rel: Vec<_> = deep.found.iter().map(|f| f.relative.clone()).collect();
        assert_eq!(
            rel,
            [
                PathBuf::from("a.mkv"),
                "b.mp4".into(),
                "sub/c.mov".into(),
                "sub/deeper/d.png".into()
            ]
        );
        assert!(deep.found.iter().all(|f| f.root == root));
        assert_eq!(deep.found[2].input, root.join("sub/c.mov"));
    }

    #[test]
    fn file_arguments_are_taken_whatever_their_extension() {
        let f = discover(&[PathBuf::from("clip.weird"), "dir/x".into()], false, None).unwrap();
        assert_eq!(
            f.found,
            [
                Found {
                    input: "clip.weird".into(),
                    root: ".".into(),
                    relative: "clip.weird".into()
                },
                Found {
                    input: "dir/x".into(),
                    root: "dir".into(),
                    relative: "x".into()
                }
            ]
        );
    }
}
