//! The plan for a person.

use std::fmt::Write;

use crate::plan::Plan;
use crate::repo::hooks::Hook;

pub fn plan_text(plan: &Plan) -> String {
    let mut s = String::new();
    let n = plan.steps.len();
    let _ = writeln!(
        s,
        "Plan for environment `{}` of {}: {} deployment{}, fail_fast {}",
        plan.environment,
        plan.ops_repo.display(),
        n,
        if n == 1 { "" } else { "s" },
        if plan.fail_fast { "on" } else { "off" }
    );
    if plan.dry_run {
        let _ = writeln!(
            s,
            "Dry run: every step gets BITOPS_DRY_RUN=true and takes its plugin's no-change path."
        );
    }
    for step in &plan.steps {
        let _ = writeln!(
            s,
            "\n[{}/{}] {} (plugin {})",
            step.index, n, step.alias, step.plugin
        );
        if let Some(reason) = &step.skip {
            let _ = writeln!(s, "  skipped: {reason}");
            continue;
        }
        let Some(plugin_dir) = &step.plugin_dir else {
            let _ = writeln!(s, "  not runnable: unknown plugin");
            continue;
        };
        let _ = writeln!(s, "  folder        {}", step.tool_dir.display());
        let builtin = if step.plugin_builtin {
            " (built in)"
        } else {
            ""
        };
        let _ = writeln!(s, "  plugin        {}{builtin}", plugin_dir.display());
        hooks(&mut s, "before hooks", &step.before_hooks);
        let _ = writeln!(s, "  deploy        {}", step.deploy.join(" "));
        hooks(&mut s, "after hooks", &step.after_hooks);
        if let Some(t) = step.timeout_secs {
            let _ = writeln!(s, "  timeout       {t}s");
        }
        let cli_var = step.env.iter().position(|(k, _)| k.ends_with("_CLI"));
        let exports = cli_var.map_or(&[][..], |i| &step.env[i..]);
        let mut first = true;
        for (k, v) in exports {
            if k.ends_with("_CLI_QUOTED") {
                continue;
            }
            let label = if first { "variables" } else { "" };
            first = false;
            let _ = writeln!(s, "  {label:<13} {k}={v}");
        }
    }
    let _ = writeln!(
        s,
        "\nEach step also gets the standard BITOPS_* variables (see --format json). Nothing was run."
    );
    s
}

fn hooks(s: &mut String, label: &str, hooks: &[Hook]) {
    if hooks.is_empty() {
        let _ = writeln!(s, "  {label:<13} none");
        return;
    }
    for (i, hook) in hooks.iter().enumerate() {
        let label = if i == 0 { label } else { "" };
        match (&hook.argv, &hook.skip_reason) {
            (Some(argv), _) if argv.len() > 1 => {
                let _ = writeln!(s, "  {label:<13} {} (with {})", hook.name, argv[0]);
            }
            (Some(_), _) => {
                let _ = writeln!(s, "  {label:<13} {} (executable)", hook.name);
            }
            (None, reason) => {
                let _ = writeln!(
                    s,
                    "  {label:<13} {} skipped: {}",
                    hook.name,
                    reason.as_deref().unwrap_or("not runnable")
                );
            }
        }
    }
}
