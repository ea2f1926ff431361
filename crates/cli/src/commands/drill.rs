//! `rempart drill`: the containment drill, printed as the Markdown of BENCHMARKS.md.

use super::*;

/// `rempart drill`.
pub(crate) fn drill(
    agencies: usize,
    files_per_agency: usize,
    days: u32,
    seed: u64,
    append_to: Option<&Path>,
) -> Result<()> {
    if !(1..=20).contains(&agencies) || !(50..=5_000).contains(&files_per_agency) || days > 90 {
        bail!("--agencies must be 1 to 20, --files-per-agency 50 to 5,000 and --days at most 90");
    }
    let o = rempart_drill::DrillOptions {
        agencies,
        files_per_agency,
        days,
        seed,
        ..rempart_drill::DrillOptions::full()
    };
    let report = rempart_drill::run(&o, &|step| eprintln!("drill: {step}"))?;
    let md = report.markdown(&format!(
        "rempart drill --agencies {agencies} --files-per-agency {files_per_agency} --days {days} --seed {seed}"
    ));
    print!("{md}");
    if let Some(path) = append_to {
        append(path, &format!("\n{md}"))?;
    }
    let broken = report.violations();
    if !broken.is_empty() {
        bail!("{} bound(s) broken: {}", broken.len(), broken.join("; "));
    }
    Ok(())
}
