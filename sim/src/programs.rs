//! What a simulated container does: the program an image and command stand for, the lines it logs
//! and when (and how) it ends. The GPUs a container was given shape what ML images print.

use std::time::Duration;

/// A GPU as a container sees it.
#[derive(Debug, Clone)]
pub struct VisibleGpu {
    pub index: usize,
    pub name: String,
    pub memory_mib: u64,
    pub pci_bus_id: String,
    pub uuid: String,
}

/// The behaviour of one container run.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// Log lines with the time after start at which each is printed.
    pub lines: Vec<(Duration, String)>,
    /// When and with which exit code the program ends; None runs until the pod is deleted.
    pub exit: Option<(Duration, i32)>,
    /// How hard it drives the GPUs it holds, 0..=1 (read by the simulated exporters).
    pub gpu_load: f64,
}

fn at(ms: u64, line: impl Into<String>) -> (Duration, String) {
    (Duration::from_millis(ms), line.into())
}

fn tensorflow_lines(gpus: &[VisibleGpu]) -> Vec<(Duration, String)> {
    let mut lines = vec![at(
        200,
        "I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.",
    )];
    if gpus.is_empty() {
        lines.push(at(400, "W tensorflow/core/common_runtime/gpu/gpu_device.cc:2256] Cannot dlopen some GPU libraries. Skipping registering GPU devices..."));
        lines.push(at(500, "[]"));
    }
    for g in gpus {
        lines.push(at(
            400,
            format!(
                "I tensorflow/core/common_runtime/gpu/gpu_device.cc:2021] Created device /job:localhost/replica:0/task:0/device:GPU:{} with {} MB memory:  -> device: {}, name: {}, pci bus id: {}, compute capability: {}",
                g.index, g.memory_mib.saturating_sub(800), g.index, g.name, g.pci_bus_id, compute_capability(&g.name)
            ),
        ));
    }
    if !gpus.is_empty() {
        let devices: Vec<String> = gpus
            .iter()
            .map(|g| {
                format!(
                    "PhysicalDevice(name='/physical_device:GPU:{}', device_type='GPU')",
                    g.index
                )
            })
            .collect();
        lines.push(at(500, format!("[{}]", devices.join(", "))));
    }
    lines
}

/// The CUDA compute capability of a GPU model, by name.
pub fn compute_capability(name: &str) -> &'static str {
    if name.contains("1080") {
        "6.1"
    } else if name.contains("T4") {
        "7.5"
    } else if name.contains("A100") {
        "8.0"
    } else {
        "9.0"
    }
}

fn pytorch_lines(gpus: &[VisibleGpu]) -> Vec<(Duration, String)> {
    let mut lines = vec![
        at(
            300,
            format!("torch.cuda.is_available() = {}", !gpus.is_empty()),
        ),
        at(300, format!("torch.cuda.device_count() = {}", gpus.len())),
    ];
    for g in gpus {
        lines.push(at(
            400,
            format!("cuda:{} {} ({} MiB)", g.index, g.name, g.memory_mib),
        ));
    }
    lines
}

fn vectoradd_lines() -> Vec<(Duration, String)> {
    [
        "[Vector addition of 50000 elements]",
        "Copy input data from the host memory to the CUDA device",
        "CUDA kernel launch with 196 blocks of 256 threads",
        "Copy output data from the CUDA device to the host memory",
        "Test PASSED",
        "Done",
    ]
    .into_iter()
    .enumerate()
    .map(|(i, l)| at(300 + 100 * i as u64, l))
    .collect()
}

fn nvidia_smi_lines(gpus: &[VisibleGpu]) -> Vec<(Duration, String)> {
    if gpus.is_empty() {
        return vec![at(
            200,
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
        )];
    }
    let mut lines = vec![at(
        200,
        "+-----------------------------------------------------------------------------+",
    )];
    for g in gpus {
        lines.push(at(
            200,
            format!(
                "|   {}  {:<28} Off  | {} Off |                  N/A |",
                g.index, g.name, g.pci_bus_id
            ),
        ));
        lines.push(at(
            200,
            format!("|      0MiB / {}MiB |      0%      Default |", g.memory_mib),
        ));
    }
    lines.push(at(
        200,
        "+-----------------------------------------------------------------------------+",
    ));
    lines
}

/// Seconds of a `sleep N` in the command, if any (`infinity` is None).
fn sleep_seconds(text: &str) -> Option<Option<u64>> {
    let idx = text.find("sleep ")?;
    let arg = text[idx + 6..].split_whitespace().next().unwrap_or("");
    if arg == "infinity" {
        return Some(None);
    }
    let digits: String = arg.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().map(Some)
}

fn exit_code(text: &str) -> Option<i32> {
    let idx = text.find("exit ")?;
    text[idx + 5..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// One shell statement the sim knows to end at once: what it prints and its exit status.
/// `last` is the status of the statement before (what a bare `exit` returns). Pipes, `||`,
/// redirections and substitutions are not simulated: such a statement is not short.
fn run_statement(statement: &str, last: i32) -> Option<(Vec<String>, i32)> {
    let statement = statement.trim();
    if statement.contains(['|', '>', '<', '$', '`']) {
        return None;
    }
    let (word, rest) = statement
        .split_once(char::is_whitespace)
        .unwrap_or((statement, ""));
    let word = word.rsplit('/').next().unwrap_or(word);
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
    match word {
        "true" | ":" => Some((Vec::new(), 0)),
        "false" => Some((Vec::new(), 1)),
        "exit" => Some((Vec::new(), rest.trim().parse().unwrap_or(last))),
        "echo" => Some((vec![unquote(rest)], 0)),
        "date" => Some((
            vec![
                jiff::Zoned::now()
                    .with_time_zone(jiff::tz::TimeZone::UTC)
                    .strftime("%a %b %e %H:%M:%S UTC %Y")
                    .to_string(),
            ],
            0,
        )),
        // What they print in a container running as root.
        "uname" => Some((vec!["Linux".into()], 0)),
        "whoami" => Some((vec!["root".into()], 0)),
        "id" => Some((vec!["uid=0(root) gid=0(root) groups=0(root)".into()], 0)),
        "pwd" => Some((vec!["/".into()], 0)),
        _ => None,
    }
}

/// What a one-line Python program of `print(<literal>)` statements prints; None when any
/// statement is something else (`import torch; print(torch.cuda.is_available())` is the
/// image's to answer, not a literal to echo).
fn python_prints(code: &str) -> Option<Vec<String>> {
    code.split(';')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let inner = s.trim().strip_prefix("print(")?.strip_suffix(')')?.trim();
            let quoted = inner.len() >= 2
                && ((inner.starts_with('"') && inner.ends_with('"'))
                    || (inner.starts_with('\'') && inner.ends_with('\'')));
            if quoted {
                Some(inner[1..inner.len() - 1].to_string())
            } else if inner.parse::<f64>().is_ok() {
                Some(inner.to_string())
            } else {
                None
            }
        })
        .collect()
}

/// A command that ends at once (`true`, `false`, `echo hi`, `date`, `python -c "print(1)"`,
/// `sh -c "echo a; exit 3"`): its output and exit status as a shell would give them; None when
/// any statement is not one of those.
fn short_program(command: &[String], args: &[String]) -> Option<Program> {
    let argv: Vec<&str> = command.iter().chain(args).map(String::as_str).collect();
    let shell = |w: &str| matches!(w.rsplit('/').next(), Some("sh" | "bash" | "ash"));
    let script = match argv.as_slice() {
        [] => return None,
        [sh, flag, script, ..] if shell(sh) && flag.starts_with('-') && flag.contains('c') => {
            script.to_string()
        }
        // Python's own statements, not the shell's: run as one.
        [py, "-c", code, ..] if matches!(py.rsplit('/').next(), Some("python" | "python3")) => {
            return python_prints(code).map(|lines| ended(lines, 0));
        }
        words => words.join(" "),
    };
    let mut lines = Vec::new();
    let mut status = 0;
    for sequence in script.split([';', '\n']) {
        for (i, step) in sequence.split("&&").enumerate() {
            if step.trim().is_empty() {
                continue;
            }
            if i > 0 && status != 0 {
                break;
            }
            let (out, code) = run_statement(step, status)?;
            lines.extend(out);
            status = code;
            if step.trim_start().starts_with("exit") {
                return Some(ended(lines, status));
            }
        }
    }
    Some(ended(lines, status))
}

fn ended(lines: Vec<String>, code: i32) -> Program {
    Program {
        lines: lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| at(50 + 10 * i as u64, l))
            .collect(),
        exit: Some((Duration::from_millis(300), code)),
        gpu_load: 0.0,
    }
}

/// The program a container runs.
pub fn program_for(
    image: &str,
    command: &[String],
    args: &[String],
    gpus: &[VisibleGpu],
) -> Program {
    let text = command
        .iter()
        .chain(args)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let image_l = image.to_lowercase();
    let has_cmd = !text.trim().is_empty();
    let forever = |lines| Program {
        lines,
        exit: None,
        gpu_load: 0.0,
    };
    let ends = |lines, secs_ms: u64, code| Program {
        lines,
        exit: Some((Duration::from_millis(secs_ms), code)),
        gpu_load: 0.0,
    };

    if text.contains("tail -f /dev/null") || text.contains("sleep infinity") {
        let mut lines = Vec::new();
        if image_l.contains("tensorflow") {
            lines = tensorflow_lines(gpus);
        }
        return Program {
            gpu_load: 0.05,
            ..forever(lines)
        };
    }
    if let Some(program) = short_program(command, args) {
        return program;
    }
    if let Some(code) = exit_code(&text) {
        return ends(
            vec![at(100, format!("exiting with status {code}"))],
            1000,
            code,
        );
    }
    if let Some(secs) = sleep_seconds(&text) {
        return match secs {
            None => forever(Vec::new()),
            Some(s) => ends(Vec::new(), s * 1000, 0),
        };
    }
    if text.contains("nvidia-smi") {
        return ends(nvidia_smi_lines(gpus), 800, 0);
    }
    if image_l.contains("vectoradd") || image_l.contains("cuda-sample") {
        return Program {
            gpu_load: 0.9,
            ..ends(vectoradd_lines(), 1500, 0)
        };
    }
    if image_l.contains("tensorflow") || image_l.contains("pytorch") || image_l.contains("torch") {
        let mut lines = if image_l.contains("tensorflow") {
            tensorflow_lines(gpus)
        } else {
            pytorch_lines(gpus)
        };
        if has_cmd {
            // A training script: epochs while it holds the GPUs, then done.
            for epoch in 1..=10u64 {
                lines.push(at(
                    1000 + epoch * 3000,
                    format!(
                        "Epoch {epoch}/10 - loss: {:.4} - accuracy: {:.4}",
                        1.0 / epoch as f64,
                        1.0 - 0.5 / epoch as f64
                    ),
                ));
            }
            lines.push(at(31_500, "Training finished"));
            return Program {
                gpu_load: 0.97,
                ..ends(lines, 32_000, 0)
            };
        }
        // The image's default command ends at once: under restartPolicy Always that is the seeds' CrashLoopBackOff.
        return ends(lines, 2000, 0);
    }
    let base_image = ["busybox", "ubuntu", "alpine", "debian", "centos", "-base"]
        .iter()
        .any(|b| image_l.contains(b));
    if base_image && !has_cmd {
        return ends(Vec::new(), 500, 0);
    }
    // Anything else is taken to be a server that runs until it is stopped.
    forever(vec![at(300, format!("{image} started"))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu() -> VisibleGpu {
        VisibleGpu {
            index: 0,
            name: "NVIDIA GeForce GTX 1080 Ti".into(),
            memory_mib: 11264,
            pci_bus_id: "00000000:01:00.0".into(),
            uuid: "GPU-x".into(),
        }
    }

    #[test]
    fn images_and_commands_pick_programs() {
        let tf = program_for("tensorflow/tensorflow:latest-gpu", &[], &[], &[gpu()]);
        assert!(tf.lines.iter().any(|(_, l)| l.contains("GTX 1080 Ti")));
        assert_eq!(tf.exit.map(|e| e.1), Some(0));
        let keep = program_for(
            "tensorflow/tensorflow:latest-gpu",
            &["/bin/bash".into(), "-ce".into(), "tail -f /dev/null".into()],
            &[],
            &[gpu()],
        );
        assert_eq!(keep.exit, None);
        let va = program_for(
            "nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda12.5.0",
            &[],
            &[],
            &[gpu()],
        );
        assert!(va.lines.iter().any(|(_, l)| l == "Test PASSED"));
        assert_eq!(
            program_for(
                "busybox",
                &["sh".into(), "-c".into(), "exit 3".into()],
                &[],
                &[]
            )
            .exit
            .map(|e| e.1),
            Some(3)
        );
        assert_eq!(
            program_for("busybox", &["sleep".into(), "5".into()], &[], &[])
                .exit
                .map(|e| e.0),
            Some(Duration::from_secs(5))
        );
        assert_eq!(program_for("nginx", &[], &[], &[]).exit, None);
    }

    fn run(argv: &[&str]) -> Program {
        let command: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        program_for("busybox", &command, &[], &[])
    }

    #[test]
    fn short_commands_end_at_once_with_their_output_and_status() {
        let output = |p: &Program| p.lines.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>();
        assert_eq!(run(&["true"]).exit.map(|e| e.1), Some(0));
        assert_eq!(run(&["false"]).exit.map(|e| e.1), Some(1));
        let echo = run(&["echo", "hello", "gpu"]);
        assert_eq!(
            (output(&echo), echo.exit.map(|e| e.1)),
            (vec!["hello gpu".to_string()], Some(0))
        );
        let sh = run(&["sh", "-c", "echo start; exit 3"]);
        assert_eq!(
            (output(&sh), sh.exit.map(|e| e.1)),
            (vec!["start".to_string()], Some(3))
        );
        let chain = run(&["sh", "-c", "false && echo never"]);
        assert_eq!(
            (output(&chain), chain.exit.map(|e| e.1)),
            (Vec::<String>::new(), Some(1))
        );
        let py = run(&["python", "-c", "print('ok')"]);
        assert_eq!(output(&py), vec!["ok".to_string()]);
        let py = run(&["python3", "-c", "print(\"a\"); print(2)"]);
        assert_eq!(output(&py), vec!["a".to_string(), "2".to_string()]);
        // An expression is the image's to answer, never echoed as if it were a literal.
        let probe = [
            "python",
            "-c",
            "import torch; print(torch.cuda.is_available())",
        ];
        assert!(short_program(&probe.map(String::from), &[]).is_none());
        // A bare `exit` keeps the status before it.
        assert_eq!(run(&["sh", "-c", "false; exit"]).exit.map(|e| e.1), Some(1));
        // Pipes are not simulated: never printed as if they were echo's words.
        let piped = run(&["sh", "-c", "echo a | grep a"]);
        assert!(!output(&piped).iter().any(|l| l.contains('|')), "{piped:?}");
        assert!(run(&["date"]).lines[0].1.contains("UTC"));
        // Long-running commands keep running.
        assert_eq!(run(&["sh", "-c", "tail -f /dev/null"]).exit, None);
        assert_eq!(run(&["sleep", "infinity"]).exit, None);
        assert_eq!(run(&["python", "train.py"]).exit, None);
    }
}
