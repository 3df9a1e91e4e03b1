//! The styles of a multi-style network (Dumoulin et al. 2017, conditional instance norm): their
//! names and credits from the model's metadata, and the user's choice of one style or a mix
//! turned into the weight vector the network's `style` input takes.
//!
//! Metadata (ONNX `metadata_props`, written by `models/train.py`):
//! - `vstyle.styles`: a JSON array with one object per style, in input order:
//!   `{"name": "starry_night", "title": "The Starry Night", "artist": "Vincent van Gogh",
//!   "year": "1889", "credit": "…"}` (only `name` is required);
//! - models without it (another project's) have styles known by index: `0`, `1`, ….

use serde::Deserialize;

/// One style of a multi-style network.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StyleInfo {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub artist: Option<String>,
    #[serde(default)]
    pub year: Option<String>,
    #[serde(default)]
    pub credit: Option<String>,
}

impl StyleInfo {
    fn indexed(i: usize) -> Self {
        Self {
            name: i.to_string(),
            title: None,
            artist: None,
            year: None,
            credit: None,
        }
    }

    /// "The Starry Night, Vincent van Gogh (1889)", from whichever parts are known.
    pub fn description(&self) -> String {
        let mut s = self.title.clone().unwrap_or_default();
        if let Some(a) = &self.artist {
            if !s.is_empty() {
                s.push_str(", ");
            }
            s.push_str(a);
        }
        if let Some(y) = &self.year {
            s.push_str(&format!(" ({y})"));
        }
        s.trim().to_string()
    }
}

/// The styles of one network, in the order of its `style` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Styles {
    pub list: Vec<StyleInfo>,
    /// True when the names came from the model (false: styles are known by index only).
    pub named: bool,
}

/// What the user asked for: one style (`--style-name`) or a mix (`--style-mix`).
#[derive(Debug, Clone, PartialEq)]
pub enum StyleChoice {
    One(String),
    Mix(Vec<(String, f32)>),
}

impl StyleChoice {
    /// Parses `--style-mix "starry_night=0.7,great_wave=0.3"` (names or indices; `:` works as
    /// well as `=`, as in other tools).
    ///
    /// # Errors
    /// An empty mix, a part without a weight, or a weight that is not a finite number ≥ 0.
    pub fn parse_mix(s: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once(['=', ':']).ok_or_else(|| {
                format!("{part:?} has no weight; write NAME=WEIGHT, e.g. starry_night=0.7,great_wave=0.3")
            })?;
            let w: f32 = weight.trim().parse().map_err(|_| {
                format!(
                    "the weight of {:?} ({weight:?}) is not a number",
                    name.trim()
                )
            })?;
            if !w.is_finite() || w < 0.0 {
                return Err(format!(
                    "the weight of {:?} is {w}; weights are 0 or more",
                    name.trim()
                ));
            }
            parts.push((name.trim().to_string(), w));
        }
        if parts.is_empty() {
            return Err("an empty mix; write NAME=WEIGHT,NAME=WEIGHT".into());
        }
        if parts.iter().all(|(_, w)| *w == 0.0) {
            return Err("every weight of the mix is 0; give at least one a positive weight".into());
        }
        Ok(Self::Mix(parts))
    }
}

impl Styles {
    /// The styles of a network with `count` styles, named by the `vstyle.styles` metadata when
    /// the model has it.
    ///
    /// # Errors
    /// Metadata that is not the JSON array described above, or that names another number of
    /// styles than the network takes.
    pub fn from_metadata(json: Option<&str>, count: usize) -> Result<Self, String> {
        let Some(json) = json else {
            return Ok(Self {
                list: (0..count).map(StyleInfo::indexed).collect(),
                named: false,
            });
        };
        let list: Vec<StyleInfo> = serde_json::from_str(json)
            .map_err(|e| format!("its vstyle.styles metadata is not a list of styles ({e})"))?;
        if list.len() != count {
            return Err(format!(
                "its metadata names {} styles but its style input takes {count}",
                list.len()
            ));
        }
        Ok(Self { list, named: true })
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The index of a style given by name (case does not matter) or by index.
    pub fn index_of(&self, key: &str) -> Option<usize> {
        let key = key.trim();
        self.list
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(key))
            .or_else(|| key.parse::<usize>().ok().filter(|&i| i < self.list.len()))
    }

    /// The names, for error messages: `identity, invert` or `0..25` for indexed styles.
    pub fn names(&self) -> String {
        if self.named {
            self.list
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            format!("indices 0 to {}", self.list.len().saturating_sub(1))
        }
    }

    /// The weight vector for `choice`, normalised to sum 1, and a label for it ("starry_night",
    /// "starry_night=0.7+great_wave=0.3").
    ///
    /// # Errors
    /// An unknown name, with the valid ones.
    pub fn weights(&self, choice: &StyleChoice) -> Result<(Vec<f32>, String), String> {
        let unknown =
            |k: &str| format!("no style {k:?} in this model; its styles: {}", self.names());
        let mut w = vec![0.0f32; self.len()];
        let label = match choice {
            StyleChoice::One(key) => {
                let i = self.index_of(key).ok_or_else(|| unknown(key))?;
                w[i] = 1.0;
                self.list[i].name.clone()
            }
            StyleChoice::Mix(parts) => {
                let mut labels = Vec::new();
                for (key, weight) in parts {
                    let i = self.index_of(key).ok_or_else(|| unknown(key))?;
                    w[i] += weight;
                    labels.push((self.list[i].name.clone(), *weight));
                }
                let total: f32 = w.iter().sum();
                labels
                    .iter()
                    .map(|(n, x)| format!("{n}={}", round2(x / total)))
                    .collect::<Vec<_>>()
                    .join("+")
            }
        };
        let total: f32 = w.iter().sum();
        w.iter_mut().for_each(|x| *x /= total);
        Ok((w, label))
    }

    /// One-hot weights for style `i`.
    pub fn one_hot(&self, i: usize) -> Vec<f32> {
        let mut w = vec![0.0; self.len()];
        w[i] = 1.0;
        w
    }

    /// The listing `--list-styles` prints: index, name, and what the style is.
    pub fn listing(&self) -> String {
        let width = self.list.iter().map(|s| s.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (i, s) in self.list.iter().enumerate() {
            let mut line = format!("{i:>3}  {:<width$}", s.name);
            let desc = s.description();
            if !desc.is_empty() {
                line.push_str(&format!("  {desc}"));
            }
            if let Some(c) = &s.credit {
                line.push_str(&format!("  [{c}]"));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn round2(x: f32) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Styles {
        Styles::from_metadata(
            Some(r#"[{"name":"starry_night","title":"The Starry Night","artist":"Vincent van Gogh","year":"1889"},{"name":"great_wave"}]"#),
            2,
        )
        .unwrap()
    }

    #[test]
    fn names_come_from_the_metadata_and_indices_work_too() {
        let s = two();
        assert_eq!(s.index_of("great_wave"), Some(1));
        assert_eq!(s.index_of("Starry_Night"), Some(0));
        assert_eq!(s.index_of("1"), Some(1));
        assert_eq!(s.index_of("2"), None);
        assert_eq!(
            s.list[0].description(),
            "The Starry Night, Vincent van Gogh (1889)"
        );
        let plain = Styles::from_metadata(None, 26).unwrap();
        assert_eq!(plain.index_of("25"), Some(25));
        assert_eq!(plain.names(), "indices 0 to 25");
    }

    #[test]
    fn metadata_that_disagrees_with_the_network_is_refused() {
        assert!(Styles::from_metadata(Some("[{\"name\":\"a\"}]"), 2).is_err());
        assert!(Styles::from_metadata(Some("{}"), 1).is_err());
    }

    #[test]
    fn a_mix_is_normalised_and_labelled() {
        let s = two();
        let mix = StyleChoice::parse_mix("starry_night=3, great_wave:1").unwrap();
        let (w, label) = s.weights(&mix).unwrap();
        assert_eq!(w, vec![0.75, 0.25]);
        assert_eq!(label, "starry_night=0.75+great_wave=0.25");
        let (w, label) = s.weights(&StyleChoice::One("great_wave".into())).unwrap();
        assert_eq!((w, label.as_str()), (vec![0.0, 1.0], "great_wave"));
    }

    #[test]
    fn bad_mixes_and_unknown_names_say_what_is_wrong() {
        for bad in ["", "a", "a=x", "a=-1", "a=0,b=0", "a=inf"] {
            assert!(StyleChoice::parse_mix(bad).is_err(), "{bad:?} was accepted");
        }
        let e = two()
            .weights(&StyleChoice::One("mona_lisa".into()))
            .unwrap_err();
        assert!(
            e.contains("mona_lisa") && e.contains("starry_night, great_wave"),
            "{e}"
        );
    }
}
