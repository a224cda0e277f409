//! The embedded API answers the walk as the real app did: the same status, and bodies of
//! the same shape — the same keys with the same JSON types (null fits any type, arrays are
//! compared by their first items). Every known difference is listed in `deviations.rs`; a
//! listed deviation that no longer happens fails the test too, so the list stays true.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{
    common::TestApi,
    deviations::{DEVIATIONS, Deviation},
    fixtures,
    scenario::{self, Exchange, Target},
};

#[tokio::test]
async fn the_embedded_api_answers_the_walk_in_the_recorded_shapes() {
    let api = TestApi::start().await;
    let target = Target {
        base: api.api.base_url().trim_end_matches('/').to_string(),
        key: api.key().to_string(),
        http: reqwest::Client::new(),
    };
    let local = scenario::run(&target, "local")
        .await
        .expect("the walk runs");
    let recorded: BTreeMap<String, Exchange> = fixtures::all()
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect();

    let mut unexplained = Vec::new();
    let mut used = vec![false; DEVIATIONS.len()];
    for answer in &local {
        let cloud = &recorded[&answer.name];
        for difference in differences(cloud, answer) {
            match DEVIATIONS
                .iter()
                .position(|d| d.covers(&answer.name, &difference))
            {
                Some(i) => used[i] = true,
                None => unexplained.push(format!("{}: {difference}", answer.name)),
            }
        }
    }
    let stale: Vec<&Deviation> = DEVIATIONS
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(d, _)| d)
        .collect();
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "differences not listed in deviations.rs:\n{}\n\ndeviations that no longer happen:\n{stale:#?}",
        unexplained.join("\n")
    );
}

/// How one answer differs from the recorded one: `status` or a JSON pointer and what.
fn differences(cloud: &Exchange, local: &Exchange) -> Vec<String> {
    let mut out = Vec::new();
    if cloud.status != local.status {
        out.push(format!(
            "status: cloud {} local {}",
            cloud.status, local.status
        ));
    }
    compare(&cloud.body, &local.body, "", &mut out);
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn compare(cloud: &Value, local: &Value, at: &str, out: &mut Vec<String>) {
    match (cloud, local) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(c), Value::Object(l)) => {
            for (key, cv) in c {
                let here = format!("{at}/{key}");
                match l.get(key) {
                    Some(lv) => compare(cv, lv, &here, out),
                    None => out.push(format!("{here}: missing locally")),
                }
            }
            for key in l.keys().filter(|k| !c.contains_key(*k)) {
                out.push(format!("{at}/{key}: only local"));
            }
        }
        (Value::Array(c), Value::Array(l)) => {
            if let (Some(cv), Some(lv)) = (c.first(), l.first()) {
                compare(cv, lv, &format!("{at}/0"), out);
            }
        }
        (c, l) if kind(c) != kind(l) => out.push(format!(
            "{}: cloud {} local {}",
            if at.is_empty() { "/" } else { at },
            kind(c),
            kind(l)
        )),
        _ => {}
    }
}
