//! The Deployments tab's service filter: which services a typed text offers, best first,
//! over thousands of services (`components::deployment_list::service_match`). The combobox
//! itself is driven in `crates/e2e/tests/deployments_tab.rs`.
#![cfg(target_arch = "wasm32")]

use shipwatch::components::deployment_list::service_match::{matching, ServiceChoice};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The simulator's naming: api, web, ..., then "API 2" (api-2), "Web front 2" and so on.
fn catalog(n: usize) -> Vec<ServiceChoice> {
    let base = [
        ("api", "API"),
        ("web", "Web front"),
        ("worker", "Worker"),
        ("db-migrate", "DB migrate"),
    ];
    (0..n)
        .map(|i| {
            let (id, name) = base[i % base.len()];
            match i / base.len() {
                0 => ServiceChoice::new(id, name),
                r => ServiceChoice::new(format!("{id}-{}", r + 1), format!("{name} {}", r + 1)),
            }
        })
        .collect()
}

fn names(found: &[&ServiceChoice]) -> Vec<String> {
    found.iter().map(|s| s.name.clone()).collect()
}

#[wasm_bindgen_test]
fn typed_text_offers_the_services_containing_it_best_first_and_counts_them_all() {
    let all = catalog(4_000);
    // 1,000 API services: 50 shown, all counted, in their numeric order.
    let (found, total) = matching(&all, "api", 50);
    assert_eq!(total, 1_000);
    assert_eq!(found.len(), 50);
    assert_eq!(names(&found)[..4], ["API", "API 2", "API 3", "API 4"]);

    // More of the name narrows it: "API 12" and "API 120".."API 129".
    let (found, total) = matching(&all, "API 12", 50);
    assert_eq!(total, 11);
    assert_eq!(names(&found)[..3], ["API 12", "API 120", "API 121"]);

    // Case and the spaces around the text do not matter; ids match too.
    assert_eq!(matching(&all, "  wOrKeR 7 ", 5).0[0].id, "worker-7");
    assert_eq!(matching(&all, "db-migrate-3", 5).0[0].name, "DB migrate 3");

    // A name that starts with the text comes before one with a word that does, before one
    // that only contains it.
    let few = vec![
        ServiceChoice::new("legacy", "Legacyfront"),
        ServiceChoice::new("web", "Web front"),
        ServiceChoice::new("front-door", "Front door"),
    ];
    assert_eq!(
        names(&matching(&few, "front", 10).0),
        ["Front door", "Web front", "Legacyfront"]
    );

    // Nothing typed: every service, by name; nothing that matches: none.
    let (found, total) = matching(&few, "", 10);
    assert_eq!((found.len(), total), (3, 3));
    assert_eq!(matching(&all, "zzz", 50), (vec![], 0));
}
