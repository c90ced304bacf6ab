//! The field-weighted outcome: each scheme's outcome shares per class,
//! weighted by how often DRAM faults of each class occur in the field. The
//! weights live in one data file, `examples/campaign/field_weights.json`
//! (built in; `--weights FILE` replaces it); their sources are in
//! docs/safety.md.

use crate::faults::{Class, CLASSES};
use crate::report::{wilson, Tally};

/// The built-in weights file.
pub(crate) const DEFAULT_WEIGHTS: &str = include_str!("field_weights.json");
/// Its path in the repository, for the reports.
pub(crate) const DEFAULT_WEIGHTS_PATH: &str = "examples/campaign/field_weights.json";

/// A weight per class, normalised to sum to 1, in [`CLASSES`] order
/// (classes the file does not name weigh 0).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Weights(Vec<(Class, f64)>);

impl Weights {
    /// Reads a weights file: a JSON object `{"weights": {"class": w, ...}}`
    /// (other keys, such as `"source"`, are ignored), or the bare object
    /// `{"class": w, ...}` (as a report's `"field_weights"`). Each weight a
    /// finite number `>= 0`, at least one positive; they are divided by
    /// their sum.
    pub(crate) fn parse(text: &str) -> Result<Weights, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("weights file: {e}"))?;
        let obj = v
            .get("weights")
            .unwrap_or(&v)
            .as_object()
            .ok_or("weights file: expected an object of class weights")?;
        let mut w: Vec<(Class, f64)> = CLASSES.iter().map(|&c| (c, 0.0)).collect();
        for (name, x) in obj {
            let c = Class::by_name(name)
                .ok_or_else(|| format!("weights file: unknown fault class {name:?}"))?;
            let x = x
                .as_f64()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| format!("weights file: {name}: not a number >= 0: {x}"))?;
            w.iter_mut().find(|(k, _)| *k == c).unwrap().1 = x;
        }
        let sum: f64 = w.iter().map(|(_, x)| x).sum();
        if sum <= 0.0 {
            return Err("weights file: no class has a positive weight".into());
        }
        for (_, x) in &mut w {
            *x /= sum;
        }
        Ok(Weights(w))
    }

    /// Every class with its weight, in [`CLASSES`] order.
    pub(crate) fn all(&self) -> &[(Class, f64)] {
        &self.0
    }

    /// The classes with a positive weight, in [`CLASSES`] order.
    pub(crate) fn classes(&self) -> Vec<Class> {
        self.0
            .iter()
            .filter(|(_, x)| *x > 0.0)
            .map(|&(c, _)| c)
            .collect()
    }
}

/// One scheme's outcome under the weighted mix, as fractions of 1.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Shares {
    pub(crate) corrected: f64,
    pub(crate) detected: f64,
    pub(crate) masked: f64,
    pub(crate) silent: f64,
    /// Of `silent`, the share where the map also counted a repair.
    pub(crate) miscorrected: f64,
    /// `silent` with each class's silent rate at the top of its Wilson 95%
    /// interval: a conservative bound, for rates measured as 0 in a finite
    /// number of trials.
    pub(crate) silent_upper: f64,
}

/// The weighted outcome of one scheme's per-class tallies; `None` if a
/// class with a positive weight was not run.
pub(crate) fn shares(weights: &Weights, tallies: &[(Class, Tally)]) -> Option<Shares> {
    let mut s = Shares::default();
    for &(c, w) in weights.all() {
        if w == 0.0 {
            continue;
        }
        let t = &tallies.iter().find(|(k, _)| *k == c)?.1;
        let n = t.trials.max(1) as f64;
        s.corrected += w * t.corrected as f64 / n;
        s.detected += w * t.detected as f64 / n;
        s.masked += w * t.masked as f64 / n;
        s.silent += w * t.silent as f64 / n;
        s.miscorrected += w * t.miscorrected as f64 / n;
        s.silent_upper += w * wilson(t.silent, t.trials.max(1)).1;
    }
    // Sums of weighted fractions can round a hair past 1.
    for x in [
        &mut s.corrected,
        &mut s.detected,
        &mut s.masked,
        &mut s.silent,
        &mut s.miscorrected,
        &mut s.silent_upper,
    ] {
        *x = x.min(1.0);
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_weights_name_real_classes_and_sum_to_one() {
        let w = Weights::parse(DEFAULT_WEIGHTS).unwrap();
        let sum: f64 = w.all().iter().map(|(_, x)| x).sum();
        assert!((sum - 1.0).abs() < 1e-12, "{sum}");
        // The published single-bit share, unchanged by normalisation: the
        // file's weights already sum to 1.
        let single = w
            .all()
            .iter()
            .find(|(c, _)| *c == Class::SingleBit)
            .unwrap()
            .1;
        assert!((single - 0.79).abs() < 1e-12, "{single}");
        // Every new DRAM class is in the mix.
        for c in [
            Class::ChipX4Line,
            Class::ChipX8Line,
            Class::RowX8,
            Class::Column,
            Class::AddressBit,
        ] {
            assert!(w.classes().contains(&c), "{}", c.name());
        }
    }

    #[test]
    fn weights_are_normalised_and_bad_files_refused() {
        let w = Weights::parse(r#"{"single_bit": 3, "row_x8": 1}"#).unwrap();
        assert_eq!(w.classes(), vec![Class::SingleBit, Class::RowX8]);
        assert_eq!(w.all()[0], (Class::SingleBit, 0.75));
        assert!(Weights::parse(r#"{"weights": {"nonsense": 1}}"#).is_err());
        assert!(Weights::parse(r#"{"weights": {"single_bit": -1, "row_x8": 2}}"#).is_err());
        assert!(Weights::parse(r#"{"weights": {"single_bit": "a"}}"#).is_err());
        assert!(Weights::parse(r#"{"weights": {"single_bit": 0}}"#).is_err());
        assert!(Weights::parse("[1]").is_err());
    }

    #[test]
    fn shares_weigh_each_class_and_need_every_weighted_class() {
        let t = |corrected, detected, masked, silent| Tally {
            trials: 10,
            corrected,
            detected,
            masked,
            silent,
            ..Tally::default()
        };
        let w = Weights::parse(r#"{"single_bit": 0.75, "row_x8": 0.25}"#).unwrap();
        let run = vec![
            (Class::SingleBit, t(10, 0, 0, 0)),
            (Class::WordZero, t(0, 0, 0, 10)),
            (Class::RowX8, t(0, 6, 0, 4)),
        ];
        let s = shares(&w, &run).unwrap();
        assert!((s.corrected - 0.75).abs() < 1e-12);
        assert!((s.detected - 0.15).abs() < 1e-12);
        assert!((s.silent - 0.10).abs() < 1e-12);
        assert_eq!(s.masked, 0.0);
        assert!(s.silent_upper > s.silent);
        assert_eq!(shares(&w, &run[..2]), None, "row_x8 not run");
    }
}
