//! The seeds' sentences and the documented precedence, for any number of members in any order.

use proptest::prelude::*;
use shipwatch_model::{
    aggregate, aggregate_status, environment_running, service_running, service_running_status,
    Environment, Instance, Member, Rule, RunningStatus as S, Service, ServiceKind,
};

fn status() -> impl Strategy<Value = S> {
    prop_oneof![
        Just(S::Stopped),
        Just(S::Starting),
        Just(S::Stopping),
        Just(S::Running),
        Just(S::Error),
        Just(S::Warning),
        Just(S::Completed),
        Just(S::Unknown),
    ]
}

/// Instance statuses as a service sees them: the seeds give instances no WARNING of their own.
fn instance_status() -> impl Strategy<Value = S> {
    status().prop_filter("instances are not WARNING", |s| *s != S::Warning)
}

fn statuses(max: usize) -> impl Strategy<Value = Vec<S>> {
    prop::collection::vec(status(), 0..max)
}

fn verdict(members: &[S]) -> (S, Rule) {
    let names: Vec<String> = (0..members.len()).map(|i| format!("m{i}")).collect();
    let ms: Vec<Member<'_>> = members
        .iter()
        .zip(&names)
        .map(|(s, n)| Member {
            name: n,
            status: *s,
            reason: None,
        })
        .collect();
    let v = aggregate(&ms, ("instance", "instances"));
    (v.status, v.rule)
}

fn count(members: &[S], s: S) -> usize {
    members.iter().filter(|m| **m == s).count()
}

fn service_of(statuses: &[S]) -> Service {
    Service {
        id: "api".into(),
        name: "api".into(),
        kind: ServiceKind::Application,
        instances: statuses
            .iter()
            .enumerate()
            .map(|(i, s)| Instance {
                name: format!("api-{}", i + 1),
                status: *s,
                version: "v1".into(),
                restarts: 0,
                reason: None,
                message: None,
                started_at: None,
                events: Vec::new(),
                last_restart_at: None,
                last_termination: None,
            })
            .collect(),
        version: "v1".into(),
        deployment: None,
        deployment_since: None,
        running_since: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_cheap_status_agrees_with_the_explained_one(ms in statuses(16)) {
        prop_assert_eq!(aggregate_status(ms.iter().copied()), verdict(&ms).0);
        let service = service_of(&ms);
        prop_assert_eq!(service_running_status(&service), service_running(&service).status);
    }

    #[test]
    fn all_stopped_is_stopped(n in 0usize..20) {
        prop_assert_eq!(verdict(&vec![S::Stopped; n]).0, S::Stopped);
    }

    #[test]
    fn all_running_is_running(n in 1usize..20) {
        prop_assert_eq!(verdict(&vec![S::Running; n]), (S::Running, Rule::AllRunning));
    }

    #[test]
    fn all_in_error_is_error(n in 1usize..20) {
        prop_assert_eq!(verdict(&vec![S::Error; n]), (S::Error, Rule::AllError));
    }

    #[test]
    fn error_iff_all_in_error(ms in statuses(12)) {
        let all_error = !ms.is_empty() && count(&ms, S::Error) == ms.len();
        prop_assert_eq!(verdict(&ms).0 == S::Error, all_error);
    }

    #[test]
    fn some_but_not_all_in_error_is_warning(ms in statuses(12)) {
        let errors = count(&ms, S::Error);
        if errors > 0 && errors < ms.len() {
            prop_assert_eq!(verdict(&ms), (S::Warning, Rule::SomeError));
        }
    }

    #[test]
    fn warning_only_for_multi_instance_services(ms in prop::collection::vec(instance_status(), 0..12)) {
        let v = service_running(&service_of(&ms));
        if v.status == S::Warning {
            prop_assert!(ms.len() >= 2, "{:?} -> WARNING with {} instance(s)", ms, ms.len());
        }
        if ms.len() == 1 {
            prop_assert_ne!(v.status, S::Warning);
        }
    }

    #[test]
    fn warning_iff_some_trouble_not_all_error(ms in statuses(12)) {
        let trouble = count(&ms, S::Error) + count(&ms, S::Warning);
        let expected = trouble > 0 && count(&ms, S::Error) < ms.len();
        prop_assert_eq!(verdict(&ms).0 == S::Warning, expected);
    }

    #[test]
    fn starting_when_any_starting_and_none_in_trouble(ms in statuses(12)) {
        let trouble = count(&ms, S::Error) + count(&ms, S::Warning);
        let expected = trouble == 0 && count(&ms, S::Starting) > 0;
        prop_assert_eq!(verdict(&ms).0 == S::Starting, expected);
    }

    #[test]
    fn stopping_when_any_stopping_none_starting_none_in_trouble(ms in statuses(12)) {
        let blocked = count(&ms, S::Error) + count(&ms, S::Warning) + count(&ms, S::Starting);
        let expected = blocked == 0 && count(&ms, S::Stopping) > 0;
        prop_assert_eq!(verdict(&ms).0 == S::Stopping, expected);
    }

    #[test]
    fn unknown_only_from_unknown_members(ms in statuses(12)) {
        let blocked = count(&ms, S::Error) + count(&ms, S::Warning)
            + count(&ms, S::Starting) + count(&ms, S::Stopping);
        let expected = blocked == 0 && count(&ms, S::Unknown) > 0;
        prop_assert_eq!(verdict(&ms).0 == S::Unknown, expected);
    }

    #[test]
    fn running_when_something_runs_and_the_rest_rests(ms in statuses(12)) {
        let rest = count(&ms, S::Stopped) + count(&ms, S::Completed);
        let running = count(&ms, S::Running);
        let expected = running > 0 && running + rest == ms.len();
        prop_assert_eq!(verdict(&ms).0 == S::Running, expected);
    }

    #[test]
    fn completed_when_jobs_completed_and_nothing_else_but_stopped(ms in statuses(12)) {
        let completed = count(&ms, S::Completed);
        let expected = completed > 0 && completed + count(&ms, S::Stopped) == ms.len();
        prop_assert_eq!(verdict(&ms).0 == S::Completed, expected);
    }

    #[test]
    fn order_does_not_matter(ms in statuses(12), seed in any::<u64>()) {
        let mut shuffled = ms.clone();
        // A deterministic shuffle from the seed.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(verdict(&ms), verdict(&shuffled));
    }

    #[test]
    fn headline_is_status_then_explanation(ms in statuses(12)) {
        let v = service_running(&service_of(&ms));
        let prefix = format!("{}: ", v.status.word());
        prop_assert!(v.headline().starts_with(&prefix), "{}", v.headline());
        prop_assert!(!v.explanation.is_empty());
        prop_assert!(!v.explanation.ends_with('.'));
    }

    #[test]
    fn environment_aggregates_its_services_computed_statuses(
        services in prop::collection::vec(prop::collection::vec(instance_status(), 0..5), 0..8)
    ) {
        let env = Environment {
            id: "prod".into(),
            name: "production".into(),
            services: services.iter().map(|s| service_of(s)).collect(),
            deployment: None,
        };
        let service_statuses: Vec<S> = env.services.iter().map(|s| service_running(s).status).collect();
        let v = environment_running(&env);
        prop_assert_eq!((v.status, v.rule), verdict(&service_statuses));
        // Seed: "At least 1 service is in error status (but not all of them)" -> WARNING.
        let errors = count(&service_statuses, S::Error);
        if errors > 0 && errors < service_statuses.len() {
            prop_assert_eq!(v.status, S::Warning);
        }
    }

    #[test]
    fn completed_jobs_next_to_running_services_are_running(jobs in 1usize..5, apps in 1usize..5) {
        let mut ms = vec![S::Completed; jobs];
        ms.extend(vec![S::Running; apps]);
        prop_assert_eq!(verdict(&ms), (S::Running, Rule::SomeRunning));
    }
}
