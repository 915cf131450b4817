//! The list of steps a task ran, printed at its end.

use std::time::{Duration, Instant};

/// One finished step.
struct Step {
    name: String,
    ok: bool,
    note: String,
    took: Duration,
}

/// The steps of one task, in the order they ran.
pub struct Summary {
    task: &'static str,
    steps: Vec<Step>,
}

impl Summary {
    /// An empty summary for `task` (`test`, `ci`).
    pub fn new(task: &'static str) -> Self {
        Summary {
            task,
            steps: Vec::new(),
        }
    }

    /// Records a step that started at `started`.
    pub fn record(&mut self, name: &str, ok: bool, note: impl Into<String>, started: Instant) {
        self.steps.push(Step {
            name: name.to_owned(),
            ok,
            note: note.into(),
            took: started.elapsed(),
        });
    }

    /// The names of the steps that failed.
    pub fn failed(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|step| !step.ok)
            .map(|step| step.name.as_str())
            .collect()
    }

    /// Prints the table of steps and a closing verdict line.
    pub fn print(&self) {
        let width = self
            .steps
            .iter()
            .map(|step| step.name.chars().count())
            .max()
            .unwrap_or(0);
        println!("\n==> {} summary", self.task);
        for step in &self.steps {
            let line = format!(
                "    {:<6}  {:<width$}  {:>7.1}s  {}",
                if step.ok { "ok" } else { "FAILED" },
                step.name,
                step.took.as_secs_f64(),
                step.note,
            );
            println!("{}", line.trim_end());
        }
        let failed = self.failed();
        if failed.is_empty() {
            println!("{}: every step succeeded", self.task);
        } else {
            println!("{}: FAILED: {}", self.task, failed.join(", "));
        }
    }
}
