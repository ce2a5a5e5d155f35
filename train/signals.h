// Graceful stops. While a StopSignalHandler is alive, SIGINT and SIGTERM only set a flag: the fit loop finishes the
// step it is in, writes a checkpoint and returns, saying how to resume. A second signal while the first is pending
// ends the process at once (the default action), for users who really mean it; the checkpoint files are always
// written atomically, so even that leaves a readable checkpoint behind.
#pragma once
#include <csignal>

namespace tg::train {

class StopSignalHandler {
 public:
  StopSignalHandler();   // installs the handlers for SIGINT and SIGTERM
  ~StopSignalHandler();  // puts the previous handlers back
  StopSignalHandler(const StopSignalHandler&) = delete;
  StopSignalHandler& operator=(const StopSignalHandler&) = delete;

 private:
  struct sigaction previous_int_ {}, previous_term_ {};  // per guard, so nested guards restore in order
};

bool stop_requested();
int stop_signal();                     // the signal that asked to stop (SIGINT, SIGTERM), 0 when none
void request_stop(int signal);         // the same request from code (tests, embedding applications)
void clear_stop_request();
int exit_code_for_signal(int signal);  // the shell's convention, 128 + signal: 130 for SIGINT, 143 for SIGTERM
const char* signal_name(int signal);   // "SIGINT", "SIGTERM", "signal"

}  // namespace tg::train
