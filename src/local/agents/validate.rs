//! What agent creation accepts: images from the allowed registries, resource requests and
//! limits within bounds, environment variables that do not shadow the runtime's, and access
//! levels. Errors are the API's own messages.

use serde_json::{Map, Value, json};

use crate::{
    local::http::{ErrorResponse, HttpResult},
    vocab::agents::AccessLevel,
};

const ALLOWED_REGISTRIES: &[&str] = &[
    "docker.io/library/",
    "library/",
    "nginxinc/",
    "docker.io/nginxinc/",
    "ghcr.io/veriteknik/",
    "ghcr.io/pluggedin/",
];

pub fn validate_image(raw: &str) -> HttpResult<String> {
    static BARE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        crate::text::constant_regex(
            r"^[a-z0-9]+([._-][a-z0-9]+)*(:[a-z0-9._-]+)?(@sha256:[a-f0-9]+)?$",
        )
    });
    static PATH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        crate::text::constant_regex(
            r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[a-z0-9._-]+)?(@sha256:[a-f0-9]+)?$",
        )
    });
    let image = raw.trim().to_lowercase();
    if image.contains("..") || image.contains("//") {
        return Err(ErrorResponse::bad_request("Invalid image reference format"));
    }
    if !image.contains('/') {
        return if BARE.is_match(&image) {
            Ok(image)
        } else {
            Err(ErrorResponse::bad_request("Invalid image name format"))
        };
    }
    match ALLOWED_REGISTRIES.iter().find(|p| image.starts_with(*p)) {
        Some(prefix) if PATH.is_match(&image[prefix.len()..]) => Ok(image),
        Some(_) => Err(ErrorResponse::bad_request("Invalid image reference format")),
        None => Err(ErrorResponse::bad_request(format!(
            "Image must be from an allowed registry. Allowed: {}",
            ALLOWED_REGISTRIES.join(", ")
        ))),
    }
}

/// CPU in millicores from `100m`, `0.5` or `2`.
fn cpu_millis(s: &str) -> Option<f64> {
    match s.strip_suffix('m') {
        Some(m) => m.parse::<f64>().ok(),
        None => s.parse::<f64>().ok().map(|c| c * 1000.0),
    }
}

/// Memory in bytes from `256Mi`, `1Gi` or a plain byte count.
fn memory_bytes(s: &str) -> Option<f64> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let mult = match unit {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0_f64.powi(4),
        _ => return None,
    };
    num.parse::<f64>().ok().map(|n| n * mult)
}

pub fn validate_resources(resources: Option<&Value>, present: bool) -> HttpResult<Option<Value>> {
    static CPU: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| crate::text::constant_regex(r"^(\d+(\.\d+)?)(m)?$"));
    static MEM: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| crate::text::constant_regex(r"^(\d+)(Ki|Mi|Gi|Ti)?$"));
    let spec_error = |form: Vec<String>, fields: Map<String, Value>| {
        ErrorResponse::bad_request("Invalid resource specification").with(
            "details",
            json!({ "formErrors": form, "fieldErrors": fields }),
        )
    };
    let Some(value) = resources else {
        return if present {
            Err(spec_error(
                vec!["Expected object, received null".into()],
                Map::new(),
            ))
        } else {
            Ok(None)
        };
    };
    let Value::Object(obj) = value else {
        return Err(spec_error(vec!["Expected object".into()], Map::new()));
    };
    let mut field_errors = Map::new();
    let mut get = |key: &str, re: &regex::Regex, example: &str| -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if re.is_match(s) => Some(s.clone()),
            Some(_) => {
                field_errors.insert(
                    key.into(),
                    json!([format!("Invalid {key} format (example: {example})")]),
                );
                None
            }
        }
    };
    let cpu_request = get("cpu_request", &CPU, "100m");
    let cpu_limit = get("cpu_limit", &CPU, "1000m");
    let memory_request = get("memory_request", &MEM, "256Mi");
    let memory_limit = get("memory_limit", &MEM, "1Gi");
    if !field_errors.is_empty() {
        return Err(spec_error(vec![], field_errors));
    }
    // Compare effective values: a field left out gets the Kubernetes default the cloud uses.
    let cpu_req = cpu_millis(cpu_request.as_deref().unwrap_or("100m")).unwrap_or(0.0);
    let cpu_lim = cpu_millis(cpu_limit.as_deref().unwrap_or("1000m")).unwrap_or(0.0);
    let mem_req = memory_bytes(memory_request.as_deref().unwrap_or("256Mi")).unwrap_or(0.0);
    let mem_lim = memory_bytes(memory_limit.as_deref().unwrap_or("1Gi")).unwrap_or(0.0);
    let max_cpu = 8000.0;
    let max_mem = 16.0 * 1024.0 * 1024.0 * 1024.0;
    let checks = [
        (cpu_lim > max_cpu, "cpu_limit exceeds maximum of 8 cores"),
        (cpu_req > max_cpu, "cpu_request exceeds maximum of 8 cores"),
        (mem_lim > max_mem, "memory_limit exceeds maximum of 16Gi"),
        (mem_req > max_mem, "memory_request exceeds maximum of 16Gi"),
        (cpu_req > cpu_lim, "cpu_request cannot exceed cpu_limit"),
        (
            mem_req > mem_lim,
            "memory_request cannot exceed memory_limit",
        ),
    ];
    if let Some((_, message)) = checks.iter().find(|(failed, _)| *failed) {
        return Err(ErrorResponse::bad_request(*message));
    }
    Ok(Some(value.clone()))
}

pub fn validate_env(env: Option<&Value>) -> HttpResult<Option<Value>> {
    let Some(value) = env else { return Ok(None) };
    let Value::Object(vars) = value else {
        return Err(ErrorResponse::bad_request(
            "env_overrides must be an object of NAME: value pairs",
        ));
    };
    if value.to_string().len() > 65_536 {
        return Err(ErrorResponse::bad_request(
            "env_overrides exceeds maximum size of 64KB",
        ));
    }
    for (key, v) in vars {
        let valid_name = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(ErrorResponse::bad_request(format!(
                "Invalid environment variable name '{key}': must match ^[A-Za-z_][A-Za-z0-9_]*$"
            )));
        }
        if ["PORT", "NODE_ENV", "HOME", "PATH", "USER"].contains(&key.as_str()) {
            return Err(ErrorResponse::bad_request(format!(
                "Environment variable '{key}' is reserved and cannot be overridden"
            )));
        }
        if ["PAP_", "PLUGGEDIN_", "AGENT_"]
            .iter()
            .any(|p| key.starts_with(p))
        {
            return Err(ErrorResponse::bad_request(format!(
                "Environment variable '{key}' uses a reserved prefix (PAP_, PLUGGEDIN_, AGENT_)"
            )));
        }
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(ErrorResponse::bad_request(format!(
                "Environment variable '{key}' contains control characters"
            )));
        }
        if text.chars().count() > 8192 {
            return Err(ErrorResponse::bad_request(format!(
                "Environment variable '{key}' value exceeds 8192 characters"
            )));
        }
    }
    Ok(Some(value.clone()))
}

pub fn access_level(v: Option<&Value>) -> HttpResult<Option<AccessLevel>> {
    match v {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(AccessLevel::parse)
            .map(Some)
            .ok_or_else(|| {
                ErrorResponse::bad_request(format!(
                    "Invalid access_level. Must be one of: {}",
                    AccessLevel::names()
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_follow_the_allow_list() {
        assert!(validate_image("nginxinc/nginx-unprivileged").is_ok());
        assert!(validate_image("nginx:1.27").is_ok());
        assert!(validate_image("ghcr.io/veriteknik/agent:1.0").is_ok());
        assert!(
            validate_image("evil.io/x")
                .unwrap_err()
                .message()
                .contains("allowed registry")
        );
        assert!(validate_image("library/../x").is_err());
        assert!(validate_image("Bad Name").is_err());
    }

    #[test]
    fn resources_compare_effective_values() {
        let ok = json!({"cpu_request": "250m", "cpu_limit": "1", "memory_request": "256Mi", "memory_limit": "1Gi"});
        assert!(validate_resources(Some(&ok), true).is_ok());
        let over = json!({"cpu_request": "2"});
        assert_eq!(
            validate_resources(Some(&over), true).unwrap_err().message(),
            "cpu_request cannot exceed cpu_limit"
        );
        let bad = json!({"memory_limit": "1GB"});
        let e = validate_resources(Some(&bad), true).unwrap_err();
        assert!(e.body["details"]["fieldErrors"]["memory_limit"].is_array());
        assert!(validate_resources(None, true).is_err());
        assert_eq!(
            validate_resources(Some(&json!({"memory_limit": "32Gi"})), true)
                .unwrap_err()
                .message(),
            "memory_limit exceeds maximum of 16Gi"
        );
    }

    #[test]
    fn env_rules() {
        assert!(validate_env(Some(&json!({"LOG_LEVEL": "debug"}))).is_ok());
        assert!(validate_env(Some(&json!({"PORT": "1"}))).is_err());
        assert!(validate_env(Some(&json!({"PAP_X": "1"}))).is_err());
        assert!(validate_env(Some(&json!({"1X": "1"}))).is_err());
        assert!(validate_env(Some(&json!({"X": "a\u{0007}"}))).is_err());
        assert!(validate_env(Some(&json!(["X"]))).is_err());
    }
}
