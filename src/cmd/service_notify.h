// Telling systemd that a service is ready (Type=notify units, docs/deploy.md §1): without it,
// `systemctl start berth-master` would return before the API answers.
#pragma once

namespace berth::cmd {

// Sends "READY=1" to the datagram socket named by $NOTIFY_SOCKET (a path, or an abstract
// name starting with '@'). Does nothing when the variable is unset; a failure to send is
// logged, not fatal.
void notify_service_ready();

}  // namespace berth::cmd
