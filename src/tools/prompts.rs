//! Prompts that encode workflows worth repeating: deploying an agent, researching into a
//! sourced document, an agent health report, and the clipboard as working memory.

use std::collections::BTreeMap;

use rmcp::{
    ErrorData,
    model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role},
};

use super::{
    Backend,
    selection::{Selection, Toolset},
};

struct Spec {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    /// (name, description, required)
    arguments: &'static [(&'static str, &'static str, bool)],
    /// Toolsets it needs, and whether it writes.
    needs: &'static [Toolset],
    writes: bool,
}

const PROMPTS: &[Spec] = &[
    Spec {
        name: "agent_health_report",
        title: "Agent health report",
        description: "Check every agent's (or one agent's) state, heartbeats and metrics and flag zombies.",
        arguments: &[(
            "agent",
            "One agent's name or uuid; leave empty for all agents.",
            false,
        )],
        needs: &[Toolset::Agents],
        writes: false,
    },
    Spec {
        name: "deploy_agent",
        title: "Deploy an agent",
        description: "Create a PAP agent, wait until it is ACTIVE, verify it and report its URL.",
        arguments: &[
            (
                "name",
                "DNS-safe agent name: lowercase letters, digits, hyphens; 2-63 chars.",
                true,
            ),
            (
                "purpose",
                "What the agent is for (becomes its description).",
                true,
            ),
            ("size", "light, standard (default) or heavy.", false),
        ],
        needs: &[Toolset::Agents],
        writes: true,
    },
    Spec {
        name: "long_task_memory",
        title: "Memory over a long task",
        description: "How to use long-term memory through a long task: start a session, search before acting, record observations as you work, end it.",
        arguments: &[("task", "The task you are about to work on.", true)],
        needs: &[Toolset::Memory],
        writes: true,
    },
    Spec {
        name: "research_and_record",
        title: "Research and record",
        description: "Research a topic in the knowledge base and save a sourced document with attribution.",
        arguments: &[
            ("topic", "What to research.", true),
            (
                "title",
                "Title of the document to write (default: derived from the topic).",
                false,
            ),
        ],
        needs: &[Toolset::Rag, Toolset::Docs],
        writes: true,
    },
    Spec {
        name: "working_memory",
        title: "Clipboard as working memory",
        description: "How to keep a long task's state in the clipboard: key-value facts and a stack of pending work.",
        arguments: &[("task", "The task you are about to work on.", true)],
        needs: &[Toolset::Clipboard],
        writes: true,
    },
];

fn offered(spec: &Spec, selection: &Selection) -> bool {
    spec.needs.iter().all(|t| selection.offers(*t, spec.writes))
}

/// The prompts the selection allows, sorted by name.
pub fn list(selection: &Selection) -> Vec<Prompt> {
    PROMPTS
        .iter()
        .filter(|s| offered(s, selection))
        .map(|s| {
            let args = s
                .arguments
                .iter()
                .map(|(name, description, required)| {
                    PromptArgument::new(*name)
                        .with_description(*description)
                        .with_required(*required)
                })
                .collect();
            Prompt::new(s.name, Some(s.description), Some(args)).with_title(s.title)
        })
        .collect()
}

/// Names of the prompt arguments that complete to agent names, sizes, or document titles.
pub fn argument_kind(prompt: &str, argument: &str) -> Option<&'static str> {
    match (prompt, argument) {
        ("agent_health_report", "agent") => Some("agent"),
        ("deploy_agent", "size") => Some("size"),
        ("research_and_record", "topic") => Some("doc_title"),
        _ => None,
    }
}

fn arg<'a>(args: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    args.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn required<'a>(args: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, ErrorData> {
    arg(args, name).ok_or_else(|| {
        ErrorData::invalid_params(format!("the prompt needs the argument `{name}`"), None)
    })
}

/// Renders a prompt; unknown or unoffered prompts and missing arguments are protocol errors.
pub fn get(
    name: &str,
    args: &BTreeMap<String, String>,
    selection: &Selection,
    backend: Backend,
) -> Result<GetPromptResult, ErrorData> {
    let spec = PROMPTS
        .iter()
        .find(|s| s.name == name && offered(s, selection))
        .ok_or_else(|| {
            ErrorData::invalid_params(
                format!("no prompt named `{name}`; prompts/list shows them"),
                None,
            )
        })?;
    let text = match spec.name {
        "deploy_agent" => {
            let name = required(args, "name")?;
            let purpose = required(args, "purpose")?;
            let size = arg(args, "size").unwrap_or("standard");
            let local = if backend == Backend::Local {
                "\nThis server is in local mode: no container starts, so after create_agent send one agent_heartbeat (uptime_seconds 1) to bring the agent to ACTIVE, and say in your report that it is a local record."
            } else {
                ""
            };
            format!(
                "Deploy a PAP agent named \"{name}\" for this purpose: {purpose}\n\n\
                 1. Call create_agent with name \"{name}\", size \"{size}\", a one-sentence description of the purpose, wait_until_active true and wait_timeout_seconds 120.\n\
                 2. If the name is refused, quote the rule from the error and propose a valid name instead of retrying blindly: agent names can never be reused.\n\
                 3. When the wait ends, call agent_status for \"{name}\" and check state, health and the recent lifecycle events.\n\
                 4. If it is not ACTIVE, call agent_logs and explain the likely cause (no first heartbeat yet, image pull, crash loop).\n\
                 5. Report the uuid, state, health and the URL https://{name}.is.plugged.in.{local}"
            )
        }
        "research_and_record" => {
            let topic = required(args, "topic")?;
            let title =
                arg(args, "title").map_or_else(|| format!("Research: {topic}"), str::to_string);
            format!(
                "Research \"{topic}\" in the user's Plugged.in library and record what you find.\n\n\
                 1. rag_ask one or two focused questions about the topic; note the source documents it returns.\n\
                 2. search_docs with two or three keyword variations; get_doc the most relevant results (page long ones with offset/max_chars).\n\
                 3. Write a concise markdown document: summary, key findings, open questions, and a Sources section listing each source as its title and document id.\n\
                 4. Save it with create_doc: title \"{title}\", category research, tags [\"research\"] plus two or three topical tags, your own model_name and model_provider, and source_document_ids set to the ids you used.\n\
                 5. Reply with the new document's id and a three-line summary.\n\n\
                 Cite only documents you actually read; if the library has nothing on the topic, say so instead of writing a document."
            )
        }
        "agent_health_report" => {
            let scope = arg(args, "agent").map_or_else(
                || "all of the user's PAP agents".to_string(),
                |a| format!("the agent \"{a}\""),
            );
            format!(
                "Produce a health report of {scope}.\n\n\
                 1. Call list_agents (or agent_status for one agent).\n\
                 2. For every agent that is not TERMINATED or KILLED, call agent_status.\n\
                 3. Flag zombies and risks: ACTIVE agents whose health is unhealthy (2 or more missed heartbeat intervals; Plugged.in drains them after 5), PROVISIONED agents still waiting for their first heartbeat, DRAINING agents that never report TERMINATED, and agents with no recent metrics.\n\
                 4. Output a table with name, state, health, last heartbeat, CPU %, memory MB and flags, then recommended actions (control_agent restart or shutdown, delete_agent).\n\n\
                 Do not run any action without the user's approval."
            )
        }
        "long_task_memory" => {
            let task = required(args, "task")?;
            format!(
                "You are working on: {task}\n\n\
                 Use long-term memory so that what you learn outlives this conversation:\n\
                 1. Start: memory_start with content_session_id set to a short id for this task. Keep the uuid (for memory_observe) and the memory_session_id (for memory_end).\n\
                 2. Before each significant step, memory_search for what was learned before about it (how it was done: ring procedures; what failed: ring shocks; the user's preferences: ring longterm). Read the full text of a promising memory with memory_details.\n\
                 3. As you work, memory_observe what matters, one observation per event: a decision and why (decision), a step of a procedure that worked (workflow_step, success_pattern), an error and its fix (error_pattern, failure_pattern), something the user prefers (user_preference), a lesson (insight). Set outcome when you know it. Keep each observation specific and self-contained; never record secrets.\n\
                 4. When the task is done (or abandoned), memory_end the session.\n\n\
                 Start now with memory_start, then search memory for this task before your first action."
            )
        }
        "working_memory" => {
            let task = required(args, "task")?;
            format!(
                "You are working on: {task}\n\n\
                 Keep the task's state in the Plugged.in clipboard so nothing is lost as the conversation grows:\n\
                 - Facts, as key-value memory: clipboard_set with names like \"task/goal\", \"task/plan\", \"task/findings/<topic>\"; clipboard_get to re-read them rather than trusting your memory; overwrite them as they change.\n\
                 - Pending work, as a stack: clipboard_push each sub-task you defer; when you finish the current one, clipboard_pop the most recent; clipboard_list shows what is pending.\n\
                 - Entries expire after 24 h unless you set ttl_seconds (up to a year); values are up to 2 MiB; images go in as base64 with an image/* content_type.\n\n\
                 Start now: store the goal under \"task/goal\", then push the first sub-tasks in reverse order of execution so the first one is on top."
            )
        }
        other => {
            return Err(ErrorData::internal_error(
                format!("prompt `{other}` has no body"),
                None,
            ));
        }
    };
    Ok(
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
            .with_description(spec.description),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_hides_writing_prompts() {
        let names = |s: &Selection| list(s).into_iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(names(&Selection::all()).len(), 5);
        assert_eq!(names(&Selection::new(&[], true)), ["agent_health_report"]);
        assert_eq!(
            names(&Selection::new(&[Toolset::Clipboard], false)),
            ["working_memory"]
        );
    }

    #[test]
    fn missing_arguments_are_named() {
        let e = get(
            "deploy_agent",
            &BTreeMap::new(),
            &Selection::all(),
            Backend::Cloud,
        )
        .unwrap_err();
        assert!(e.message.contains("`name`"));
    }
}
