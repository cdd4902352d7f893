//! `bitops plan`: what `deploy` would run, as text or JSON. Runs and writes nothing.

use crate::app::cli::{PlanArgs, PlanFormat};
use crate::app::prepare::prepare;
use crate::app::{emit, emit_err};
use crate::report::mask::{json_pretty, masked};

pub fn plan(args: &PlanArgs) -> crate::error::Result<()> {
    let prepared = prepare(&args.common, &args.dry_run, std::time::Duration::ZERO, None)
        .map_err(|failed| failed.error)?;
    let missing = crate::plan::preflight::missing(
        &prepared.plan,
        crate::plan::preflight::path_of(&prepared.ctx.env),
    );
    for warning in prepared
        .warnings
        .iter()
        .chain(&crate::plan::preflight::warnings(&missing))
    {
        emit_err(&format!("{warning}\n"));
    }
    let m = &prepared.masker;
    match args.format {
        // Masked on values, before quoting or escaping.
        // Keys, values and file names from the repo never drive the terminal.
        PlanFormat::Text => {
            let text = crate::report::plan_text::plan_text(&masked(&prepared.plan, m));
            emit(&crate::error::visible_lines(&text))
        }
        PlanFormat::Json => emit(&json_pretty(&prepared.plan, m)),
        PlanFormat::Mermaid => emit(&prepared.plan.graph.mermaid()),
    }
    Ok(())
}
