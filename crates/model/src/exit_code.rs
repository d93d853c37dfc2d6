//! What a process's exit code says, for people reading an instance's last termination: the
//! conventions of POSIX shells and container runtimes (128 + n: killed by signal n).

/// What an exit code means, in a few words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitMeaning {
    /// 0: it ended on its own, without error.
    Success,
    /// 1: the application reported an error of its own.
    ApplicationError,
    /// 2: misuse of a shell built-in or a bad command line.
    Misuse,
    /// 126: the command was found but could not be executed.
    NotExecutable,
    /// 127: the command was not found.
    NotFound,
    /// 137 (128 + SIGKILL): killed, often by the kernel for going over its memory limit.
    Killed,
    /// 139 (128 + SIGSEGV): a segmentation fault.
    Segfault,
    /// 143 (128 + SIGTERM): terminated, asked to stop (a rollout, a scale-down, a stop).
    Terminated,
    /// 130 (128 + SIGINT): interrupted.
    Interrupted,
    /// 134 (128 + SIGABRT): aborted itself (a failed assertion, a panic that aborts).
    Aborted,
    /// 129 to 192 otherwise: killed by that signal.
    Signal(u8),
    /// Anything else: the application's own code.
    Other(i32),
}

impl ExitMeaning {
    /// The meaning of `code`.
    #[must_use]
    pub fn of(code: i32) -> Self {
        match code {
            0 => Self::Success,
            1 => Self::ApplicationError,
            2 => Self::Misuse,
            126 => Self::NotExecutable,
            127 => Self::NotFound,
            130 => Self::Interrupted,
            134 => Self::Aborted,
            137 => Self::Killed,
            139 => Self::Segfault,
            143 => Self::Terminated,
            // 128 + n for the signals Linux numbers (1 to 64).
            129..=192 => Self::Signal((code - 128) as u8),
            _ => Self::Other(code),
        }
    }

    /// A short sentence for the page: "killed (often out of memory)".
    #[must_use]
    pub fn text(self) -> String {
        match self {
            Self::Success => "exited normally".into(),
            Self::ApplicationError => "the application's own error".into(),
            Self::Misuse => "bad command line (shell misuse)".into(),
            Self::NotExecutable => "command not executable".into(),
            Self::NotFound => "command not found".into(),
            Self::Interrupted => "interrupted (SIGINT)".into(),
            Self::Aborted => "aborted itself (SIGABRT)".into(),
            Self::Killed => "killed (SIGKILL), often out of memory".into(),
            Self::Segfault => "crashed: segmentation fault (SIGSEGV)".into(),
            Self::Terminated => "terminated (SIGTERM), asked to stop".into(),
            Self::Signal(n) => format!("killed by signal {n}"),
            Self::Other(_) => "an error code of the application".into(),
        }
    }

    /// Whether it means the run failed (anything but a normal exit or a requested stop).
    #[must_use]
    pub fn is_failure(self) -> bool {
        !matches!(self, Self::Success | Self::Terminated)
    }
}

/// "exit code 137: killed (SIGKILL), often out of memory".
#[must_use]
pub fn describe(code: i32) -> String {
    format!("exit code {code}: {}", ExitMeaning::of(code).text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_people_meet_say_what_they_mean() {
        assert_eq!(ExitMeaning::of(137), ExitMeaning::Killed);
        assert!(
            describe(137).contains("often out of memory"),
            "{}",
            describe(137)
        );
        assert_eq!(ExitMeaning::of(143), ExitMeaning::Terminated);
        assert_eq!(
            describe(143),
            "exit code 143: terminated (SIGTERM), asked to stop"
        );
        assert_eq!(ExitMeaning::of(1), ExitMeaning::ApplicationError);
        assert_eq!(describe(1), "exit code 1: the application's own error");
        assert_eq!(ExitMeaning::of(0), ExitMeaning::Success);
        assert_eq!(ExitMeaning::of(127), ExitMeaning::NotFound);
        assert_eq!(ExitMeaning::of(139), ExitMeaning::Segfault);
    }

    #[test]
    fn other_signals_and_codes_are_named_by_number() {
        assert_eq!(ExitMeaning::of(128 + 6 + 1), ExitMeaning::Signal(7));
        assert_eq!(describe(135), "exit code 135: killed by signal 7");
        assert_eq!(ExitMeaning::of(3), ExitMeaning::Other(3));
        assert_eq!(ExitMeaning::of(255), ExitMeaning::Other(255));
        assert_eq!(ExitMeaning::of(-1), ExitMeaning::Other(-1));
        assert_eq!(ExitMeaning::of(128), ExitMeaning::Other(128));
    }

    #[test]
    fn a_requested_stop_is_not_a_failure() {
        assert!(!ExitMeaning::of(0).is_failure());
        assert!(!ExitMeaning::of(143).is_failure());
        assert!(ExitMeaning::of(137).is_failure());
        assert!(ExitMeaning::of(1).is_failure());
    }

    #[test]
    fn every_code_has_a_sentence() {
        for code in -300..600 {
            assert!(!ExitMeaning::of(code).text().is_empty());
        }
    }
}
