//! The outcome of a trial, decided from what the trial saw. The rules are
//! written out in docs/safety.md; this is the one place they are applied.

use crate::schemes::PageSet;

/// An error report from the map: an [`Uncorrectable`](eccmap::StateError)
/// returned by an operation or a final read, or a bad-page range of the
/// final scrub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) first: usize,
    pub(crate) count: usize,
    /// Whether the fault had been injected when the map said it.
    pub(crate) after_fault: bool,
}

/// What a trial saw, boiled down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Evidence {
    /// Answers that differ from the shadow model's, during the workload or
    /// in the final comparison (an `Ok` value, or a double-alloc/double-free
    /// verdict, that a correct map would not give).
    pub(crate) wrong_answers: u64,
    /// Reports of the fault: said after the injection, naming at least one
    /// damaged page (a page whose state lives in a storage word that the
    /// fault changed).
    pub(crate) reports: u64,
    /// Reports that are not of the fault: said before the injection, or
    /// naming no damaged page; and repairs counted before the injection.
    pub(crate) false_alarms: u64,
    /// Repairs the map counted (`ce_count`) from the injection to the end.
    pub(crate) repairs: u64,
}

impl Evidence {
    /// Sorts `reports` into reports of the fault and false alarms.
    pub(crate) fn add_reports(&mut self, reports: &[Report], damaged: &PageSet) {
        for r in reports {
            if r.after_fault && damaged.meets(r.first, r.count) {
                self.reports += 1;
            } else {
                self.false_alarms += 1;
            }
        }
    }
}

/// The one outcome of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing wrong returned, nothing reported, the final state equals the
    /// model, and the map counted a repair.
    Corrected,
    /// The map reported the damaged pages and never returned a wrong answer.
    Detected,
    /// Nothing wrong, nothing reported, nothing repaired.
    Masked,
    /// A wrong answer was returned (during the workload or by the final
    /// comparison). `miscorrected`: the map also counted a repair.
    Silent { miscorrected: bool },
}

impl Outcome {
    /// The outcome's name in the reports and the JSON (`miscorrected` is a
    /// kind of `silent`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Outcome::Corrected => "corrected",
            Outcome::Detected => "detected",
            Outcome::Masked => "masked",
            Outcome::Silent { .. } => "silent",
        }
    }

    /// The outcome name `name`, as [`Outcome::name`] spells it.
    pub(crate) fn by_name(name: &str) -> Option<&'static str> {
        ["corrected", "detected", "masked", "silent"]
            .into_iter()
            .find(|&n| n == name)
    }
}

/// The rules, in order: any wrong answer makes the trial silent, whatever
/// else the map did; then a report of the fault makes it detected; then a
/// counted repair makes it corrected; otherwise it is masked. False alarms
/// do not change the outcome (they are counted on their own).
///
/// "The final state equals the model" needs no separate test: the final
/// comparison reads every page, and a page that differs either answers
/// wrongly (a wrong answer) or fails with a report.
pub(crate) fn classify(e: &Evidence) -> Outcome {
    if e.wrong_answers > 0 {
        Outcome::Silent {
            miscorrected: e.repairs > 0,
        }
    } else if e.reports > 0 {
        Outcome::Detected
    } else if e.repairs > 0 {
        Outcome::Corrected
    } else {
        Outcome::Masked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(wrong: u64, reports: u64, repairs: u64) -> Evidence {
        Evidence {
            wrong_answers: wrong,
            reports,
            false_alarms: 0,
            repairs,
        }
    }

    #[test]
    fn a_wrong_answer_is_silent_whatever_else_happened() {
        assert_eq!(
            classify(&ev(1, 0, 0)),
            Outcome::Silent {
                miscorrected: false
            }
        );
        assert_eq!(
            classify(&ev(1, 5, 0)),
            Outcome::Silent {
                miscorrected: false
            }
        );
        assert_eq!(
            classify(&ev(2, 5, 1)),
            Outcome::Silent { miscorrected: true }
        );
    }

    #[test]
    fn a_report_outranks_a_repair() {
        assert_eq!(classify(&ev(0, 1, 3)), Outcome::Detected);
        assert_eq!(classify(&ev(0, 0, 1)), Outcome::Corrected);
        assert_eq!(classify(&ev(0, 0, 0)), Outcome::Masked);
    }

    #[test]
    fn false_alarms_do_not_make_a_detection() {
        let mut damaged = PageSet::new(200);
        damaged.insert(100);
        let mut e = Evidence::default();
        e.add_reports(
            &[
                // Before the fault, on the damaged page: a false alarm.
                Report {
                    first: 90,
                    count: 20,
                    after_fault: false,
                },
                // After the fault, elsewhere: a false alarm.
                Report {
                    first: 0,
                    count: 57,
                    after_fault: true,
                },
            ],
            &damaged,
        );
        assert_eq!((e.reports, e.false_alarms), (0, 2));
        assert_eq!(classify(&e), Outcome::Masked);
        e.add_reports(
            &[Report {
                first: 99,
                count: 2,
                after_fault: true,
            }],
            &damaged,
        );
        assert_eq!((e.reports, e.false_alarms), (1, 2));
        assert_eq!(classify(&e), Outcome::Detected);
    }
}
