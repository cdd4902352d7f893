//! `${{ outputs.<alias>.<key> }}` read from a built-in step that will publish nothing in
//! this run, found before step 1 (else the reading step fails after the other ran):
//! terraform publishes no outputs after `destroy`, and after `plan` only what a state
//! that outlives the run holds; cloudformation none after `delete`.

use crate::error::Problem;
use crate::plan::{Plan, Step};
use crate::plugin::schema::Val;
use crate::repo::view::EnvView;

pub fn check(view: &EnvView, plan: &Plan) -> Vec<Problem> {
    let mut problems = Vec::new();
    for step in &plan.steps {
        for r in &step.references {
            let Some(them) = plan.steps.iter().find(|s| s.alias == r.alias) else {
                continue;
            };
            if let Some(why) = publishes_nothing(view, them) {
                problems.push(
                    r.problem(format!(
                        "{} reads an output of `{}`, which will publish none in this run: {why}",
                        r.text(),
                        r.alias
                    ))
                    .hint(format!(
                        "run `{}` with a stack-action that publishes its outputs, or take the value from elsewhere",
                        r.alias
                    )),
                );
            }
        }
    }
    problems
}

fn publishes_nothing(view: &EnvView, step: &Step) -> Option<String> {
    if !step.plugin_builtin || step.skip.is_some() {
        return None;
    }
    let Some(Val::Str(action)) = step.value("cli.stack-action") else {
        return None;
    };
    match (step.plugin.as_str(), action.as_str()) {
        ("terraform", "destroy") => Some("terraform publishes no outputs after `destroy`".into()),
        ("cloudformation", "delete") => {
            Some("cloudformation publishes no outputs after `delete`".into())
        }
        ("terraform", "plan") => {
            let kept = step.value("options.local-state") == Some(&Val::Str("keep".into()));
            let why = crate::plan::terraform_state::in_folder(view, step).filter(|_| !kept)?;
            Some(format!(
                "its stack-action is `plan` and its state starts empty in bitops' private copy of the folder ({why}), so `terraform output` has nothing"
            ))
        }
        _ => None,
    }
}
