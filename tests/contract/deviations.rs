//! Where the embedded API knowingly answers differently from the real Plugged.in app, and
//! why. The shape test fails on any difference not listed here and on any entry here that
//! no longer happens, so this list is the whole truth about the differences.

/// One known difference: in the answers of `step`, every difference whose description
/// starts with `at` (`status`, or a JSON pointer; `""` covers the whole answer).
#[derive(Debug)]
pub struct Deviation {
    pub step: &'static str,
    pub at: &'static str,
    #[expect(
        dead_code,
        reason = "the reason is for the reader and the failure message"
    )]
    pub why: &'static str,
}

impl Deviation {
    pub fn covers(&self, step: &str, difference: &str) -> bool {
        self.step == step && difference.starts_with(self.at)
    }
}

const NO_KUBERNETES: &str = "the recorded app has no Kubernetes, so its lifecycle actions fail \
     (500) or find the agent still NEW (400); the embedded API runs no containers and records \
     the transition, so the same request succeeds";

const IN_CLEAR: &str = "the cloud keeps a server's command, arguments, environment, URL and \
     options encrypted (with a salt) beside the decrypted fields it answers; the embedded API's \
     database is the user's own file and keeps them in clear";

pub const DEVIATIONS: &[Deviation] = &[
    Deviation {
        step: "hub_servers",
        at: "/0/encryption_salt",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_servers",
        at: "/0/streamable_http_options_encrypted",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_servers",
        at: "/0/transport_encrypted",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_servers",
        at: "/0/url_encrypted",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_server_create",
        at: "/encryption_salt",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_server_create",
        at: "/args_encrypted",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_server_create",
        at: "/command_encrypted",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_server_create",
        at: "/env_encrypted",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_server_create",
        at: "/streamable_http_options_encrypted",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_server_create",
        at: "/transport_encrypted",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_server_create",
        at: "/url_encrypted",
        why: IN_CLEAR,
    },
    Deviation {
        step: "hub_tools_report",
        at: "/results/0/uuid",
        why: "the embedded API keys a cached tool by its server and name, with no id of its \
              own; the client never reads it",
    },
    Deviation {
        step: "doc_search",
        at: "/total",
        why: "the cloud sends the SQL count as a string (\"1\"); the embedded API sends a \
              number; the client accepts both",
    },
    Deviation {
        step: "notification_send",
        at: "/notificationId",
        why: "the cloud's custom route returns no id; the embedded API adds the new id, which \
              the client ignores (it finds notifications by listing, as it must in the cloud)",
    },
    Deviation {
        step: "notification_send_invalid",
        at: "/details/0/",
        why: "zod adds rule parameters (minimum, inclusive, exact, type) to an issue; the \
              embedded API states the rule in `message` only",
    },
    Deviation {
        step: "notification_list",
        at: "/notifications/0/metadata/source/",
        why: "the cloud names the API key and profile that sent a notification; the embedded \
              API has one key and no profiles",
    },
    Deviation {
        step: "notification_list_unread",
        at: "/notifications/0/metadata/source/",
        why: "as notification_list",
    },
    Deviation {
        step: "agent_get",
        at: "/lifecycleEvents/0/metadata/",
        why: "the cloud's first event is its failed Kubernetes deploy (error_message); the \
              embedded API records a local deploy (local_mode)",
    },
    Deviation {
        step: "agent_export",
        at: "/lifecycle_events/0/metadata/",
        why: "as agent_get",
    },
    Deviation {
        step: "agent_suspend",
        at: "",
        why: NO_KUBERNETES,
    },
    Deviation {
        step: "agent_resume",
        at: "",
        why: NO_KUBERNETES,
    },
    Deviation {
        step: "agent_restart",
        at: "",
        why: NO_KUBERNETES,
    },
    Deviation {
        step: "agent_delete",
        at: "/kubernetes/failedResources",
        why: "the cloud lists the Kubernetes resources it could not delete; the embedded API \
              has none",
    },
];
