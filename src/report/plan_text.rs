//! The plan for a person.

use std::fmt::Write;

use crate::plan::{Plan, Step};
use crate::plugin::schema::{Resolved, Val, shell_join};
use crate::repo::hooks::Hook;
use crate::report::mask::{Mask, Masker};

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
    // The order, when `depends_on` declares one: steps of a level can run at once.
    if plan.graph.declared {
        let levels = plan.graph.levels();
        let _ = writeln!(
            s,
            "Order ({} level{}; the steps of a level can run at once with --parallel):",
            levels.len(),
            if levels.len() == 1 { "" } else { "s" }
        );
        for (i, level) in levels.iter().enumerate() {
            let names: Vec<&str> = level
                .iter()
                .map(|&j| plan.graph.aliases[j].as_str())
                .collect();
            let _ = writeln!(s, "  {}. {}", i + 1, names.join(", "));
        }
    }
    for step in &plan.steps {
        let _ = writeln!(
            s,
            "\n[{}/{}] {} (plugin {})",
            step.index, n, step.alias, step.plugin
        );
        if step.selected != "listed" {
            let _ = writeln!(s, "  selected      {}", step.selected);
        }
        if !step.needs.is_empty() {
            let _ = writeln!(s, "  needs         {}", step.needs.join(", "));
        }
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
        // The interpreter and script as they are; the arguments quoted (an empty
        // stack-action shows as '').
        let split = step.deploy.len().min(2);
        let _ = writeln!(
            s,
            "  deploy        {} {}",
            step.deploy[..split].join(" "),
            shell_join(&step.deploy[split..])
        );
        hooks(&mut s, "after hooks", &step.after_hooks);
        if let Some(t) = step.timeout_secs {
            let _ = writeln!(s, "  timeout       {t}s");
        }
        let exports = &step.env[step.env.len().saturating_sub(step.own_vars)..];
        if exports.is_empty() {
            let _ = writeln!(s, "  variables     none");
        }
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

impl Mask for Val {
    fn mask_with(&mut self, m: &Masker) {
        match self {
            Val::Str(s) => s.mask_with(m),
            Val::List(items) => items.mask_with(m),
            Val::Bool(_) | Val::Int(_) => {}
        }
    }
}

impl Mask for Resolved {
    fn mask_with(&mut self, m: &Masker) {
        self.value.mask_with(m);
    }
}

impl Mask for Hook {
    fn mask_with(&mut self, m: &Masker) {
        self.argv.mask_with(m);
        self.skip_reason.mask_with(m);
    }
}

impl Mask for Step {
    fn mask_with(&mut self, m: &Masker) {
        self.skip.mask_with(m);
        self.before_hooks.mask_with(m);
        self.deploy.mask_with(m);
        self.after_hooks.mask_with(m);
        self.cli.mask_with(m);
        self.env.mask_with(m);
        self.values.mask_with(m);
    }
}

impl Mask for Plan {
    fn mask_with(&mut self, m: &Masker) {
        self.steps.mask_with(m);
        self.problems.mask_with(m);
    }
}
