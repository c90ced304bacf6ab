//! Where a figure comes from: the commit, the CPU and the command that
//! reproduce it. Shared by `examples/bench_report.rs` and the campaign
//! (`examples/campaign.rs`), which write it into what they generate.

use std::path::Path;
use std::process::Command;

/// The CPU a figure was measured on, as `lscpu` names it. A field the
/// system does not tell is `None` (off Linux: all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cpu {
    /// `model name` (`lscpu`: "Model name").
    pub(crate) model_name: Option<String>,
    /// `cpu family` (`lscpu`: "CPU family").
    pub(crate) family: Option<String>,
    /// `model` (`lscpu`: "Model").
    pub(crate) model: Option<String>,
}

impl Cpu {
    /// This machine's CPU: from `/proc/cpuinfo`, else from `lscpu`, else
    /// unknown.
    pub(crate) fn here() -> Cpu {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .map(|t| Cpu::parse(&t, ["model name", "cpu family", "model"]))
            .unwrap_or_default();
        if cpu.model_name.is_some() {
            return cpu;
        }
        Command::new("lscpu")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|t| Cpu::parse(&t, ["Model name", "CPU family", "Model"]))
            .unwrap_or_default()
    }

    /// The first `key: value` line of `text` for each of the three keys
    /// (exact key match, surrounding blanks ignored).
    pub(crate) fn parse(text: &str, keys: [&str; 3]) -> Cpu {
        let field = |key: &str| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                let v = v.trim();
                (k.trim() == key && !v.is_empty()).then(|| v.to_string())
            })
        };
        Cpu {
            model_name: field(keys[0]),
            family: field(keys[1]),
            model: field(keys[2]),
        }
    }

    /// `Intel(R) Xeon(R) Processor (family 6, model 207)`, with `unknown`
    /// for what is not known.
    pub(crate) fn describe(&self) -> String {
        let or = |x: &Option<String>| x.clone().unwrap_or_else(|| "unknown".to_string());
        format!(
            "{} (family {}, model {})",
            or(&self.model_name),
            or(&self.family),
            or(&self.model)
        )
    }
}

/// The commit of the checkout at `dir`: `git rev-parse --short HEAD`, plus
/// `-dirty` when a tracked file differs from it (outside the paths of
/// `ignore`, e.g. the report's own output); `unknown (not a git checkout)`
/// without git.
pub(crate) fn commit(dir: &Path, ignore: &[&str]) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
    };
    let Some(rev) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown (not a git checkout)".to_string();
    };
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--", "."];
    let excludes: Vec<String> = ignore.iter().map(|p| format!(":(exclude){p}")).collect();
    status.extend(excludes.iter().map(String::as_str));
    // A tree whose status cannot be read is not claimed clean.
    let dirty = git(&status).is_none_or(|s| !s.trim().is_empty());
    format!("{}{}", rev.trim(), if dirty { "-dirty" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_fields_from_cpuinfo_and_lscpu_text() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n\
                       model\t\t: 207\nmodel name\t: Intel(R) Xeon(R) Processor\n\
                       processor\t: 1\nmodel name\t: other\n";
        let c = Cpu::parse(cpuinfo, ["model name", "cpu family", "model"]);
        assert_eq!(c.model_name.as_deref(), Some("Intel(R) Xeon(R) Processor"));
        assert_eq!(c.family.as_deref(), Some("6"));
        assert_eq!(c.model.as_deref(), Some("207"));
        assert_eq!(
            c.describe(),
            "Intel(R) Xeon(R) Processor (family 6, model 207)"
        );
        let lscpu = "Vendor ID:   AuthenticAMD\nModel name:  AMD EPYC 9R14\nCPU family:  25\n\
                     Model:       17\n";
        let c = Cpu::parse(lscpu, ["Model name", "CPU family", "Model"]);
        assert_eq!(c.describe(), "AMD EPYC 9R14 (family 25, model 17)");
        // Nothing known: every field says so.
        let c = Cpu::parse("", ["Model name", "CPU family", "Model"]);
        assert_eq!(c, Cpu::default());
        assert_eq!(c.describe(), "unknown (family unknown, model unknown)");
    }

    #[test]
    fn commit_names_this_checkout() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let c = commit(dir, &[]);
        let head = Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_string());
        match head {
            Some(h) => assert!(c == h || c == format!("{h}-dirty"), "{c} vs {h}"),
            None => assert_eq!(c, "unknown (not a git checkout)"),
        }
    }
}
