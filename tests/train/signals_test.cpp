#include <doctest/doctest.h>

#include <csignal>
#include <string>

#include "train/signals.h"

using namespace tg::train;

TEST_CASE("signals: SIGINT and SIGTERM only raise the stop flag while the handler is installed") {
  clear_stop_request();
  struct sigaction before {};
  ::sigaction(SIGINT, nullptr, &before);
  {
    StopSignalHandler handler;
    CHECK_FALSE(stop_requested());
    std::raise(SIGTERM);
    CHECK(stop_requested());
    CHECK(stop_signal() == SIGTERM);
    clear_stop_request();
    std::raise(SIGINT);
    CHECK(stop_signal() == SIGINT);
    CHECK(exit_code_for_signal(stop_signal()) == 130);
    CHECK(exit_code_for_signal(SIGTERM) == 143);
    CHECK(std::string(signal_name(SIGTERM)) == "SIGTERM");
    clear_stop_request();
  }
  struct sigaction now {};
  ::sigaction(SIGINT, nullptr, &now);
  CHECK((now.sa_handler == before.sa_handler));  // the previous handler is back
  request_stop(SIGTERM);
  CHECK(stop_signal() == SIGTERM);
  clear_stop_request();
}
