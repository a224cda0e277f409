//! Notification vocabulary.

use super::wire::wire_enum;

wire_enum! {
    #[derive(Default)]
    pub enum Severity {
        #[default]
        Info = "INFO",
        Success = "SUCCESS",
        Warning = "WARNING",
        Alert = "ALERT",
    }
}
