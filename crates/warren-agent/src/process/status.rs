//! Exit statuses as envd reports them: envd fills `EndEvent` from Go's `os.ProcessState`, so
//! `status` is `"exit status 3"` or `"signal: killed"` (Go's signal descriptions, plus
//! `" (core dumped)"`), `exitCode` is -1 for a signal, and `error` is set, with the same text,
//! whenever the status is not a clean exit 0 (Go's `cmd.Wait` error).

use warren_agent_proto::EndEvent;

use crate::reaper::Exit;

/// Build the end event for an exit.
pub fn end_event(exit: Exit) -> EndEvent {
    let (exit_code, exited, status) = match exit {
        Exit::Code(c) => (c, true, format!("exit status {c}")),
        Exit::Signal { signal, core } => {
            let mut s = format!("signal: {}", signal_description(signal));
            if core {
                s.push_str(" (core dumped)");
            }
            (-1, false, s)
        }
    };
    let error = (exit != Exit::Code(0)).then(|| status.clone());
    EndEvent {
        exit_code,
        exited,
        status,
        error,
    }
}

/// Go's `syscall.Signal.String()` on Linux.
pub fn signal_description(sig: i32) -> String {
    let s = match sig {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        16 => "stack fault",
        17 => "child exited",
        18 => "continued",
        19 => "stopped (signal)",
        20 => "stopped",
        21 => "stopped (tty input)",
        22 => "stopped (tty output)",
        23 => "urgent I/O condition",
        24 => "CPU time limit exceeded",
        25 => "file size limit exceeded",
        26 => "virtual timer expired",
        27 => "profiling timer expired",
        28 => "window changed",
        29 => "I/O possible",
        30 => "power failure",
        31 => "bad system call",
        n => return format!("signal {n}"),
    };
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let e = end_event(Exit::Code(0));
        assert_eq!(
            (e.exit_code, e.exited, e.status.as_str(), e.error),
            (0, true, "exit status 0", None)
        );
        let e = end_event(Exit::Code(3));
        assert_eq!(
            (e.exit_code, e.exited, e.status.as_str()),
            (3, true, "exit status 3")
        );
        assert_eq!(e.error.as_deref(), Some("exit status 3"));
        let e = end_event(Exit::Signal {
            signal: 9,
            core: false,
        });
        assert_eq!(
            (e.exit_code, e.exited, e.status.as_str()),
            (-1, false, "signal: killed")
        );
        let e = end_event(Exit::Signal {
            signal: 6,
            core: true,
        });
        assert_eq!(e.status, "signal: aborted (core dumped)");
        assert_eq!(signal_description(40), "signal 40");
    }
}
