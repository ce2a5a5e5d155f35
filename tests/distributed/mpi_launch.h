// Starting `tapegrad` under mpirun from tests: the launcher's flags for a container (root, no network), the ranks'
// pids, and checkpoints compared tensor by tensor.
#pragma once
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "autograd/io/safetensors.h"
#include "tests/apps/cli_util.h"

namespace tg::mpi_test {

namespace fs = std::filesystem;

inline bool have_mpirun() {
  const std::string exe = TAPEGRAD_MPIEXEC;
  return !exe.empty() && fs::exists(exe);
}

using cli_test::read_text;
using cli_test::wait_for_file;

// `processes` > 0: `mpirun -np N tapegrad ARGS...`; 0: `tapegrad ARGS...` alone. One compute thread per process
// (the tests' models are tiny and ctest runs tests side by side). stdout and stderr go to `log`.
inline pid_t spawn(int processes, const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> all;
  if (processes > 0)
    // as root in a container: --allow-run-as-root; more processes than cores: --oversubscribe (which also makes
    // waiting processes yield); no network: the shared-memory and self transports only. Processes on this machine
    // inherit mpirun's environment (OMP_NUM_THREADS included).
    all = {TAPEGRAD_MPIEXEC, "--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader",
           "-np", std::to_string(processes)};
  all.push_back(TAPEGRAD_CLI);
  all.insert(all.end(), args.begin(), args.end());
  return cli_test::spawn_program(std::move(all), log, 1);
}

// The exit status as a shell reports it, or -1 when the process is still running after `seconds` (then killed).
inline int wait_exit(pid_t pid, int seconds = 300) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > give_up) {
      ::kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Run {
  int status = -1;
  std::string output;
};

inline Run run(int processes, const std::vector<std::string>& args, const fs::path& log) {
  Run r;
  r.status = wait_exit(spawn(processes, args, log));
  r.output = read_text(log);
  return r;
}

// The pid of MPI rank `rank` among the children of `launcher` (mpirun starts a machine's ranks itself); 0 when it
// is not (yet) running.
inline pid_t rank_pid(pid_t launcher, int rank) {
  const std::string wanted = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const fs::directory_entry& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::istringstream stat(read_text(e.path() / "stat"));
    std::string pid, comm, state;
    long ppid = 0;
    stat >> pid >> comm >> state >> ppid;
    if (ppid != launcher) continue;
    std::string env = read_text(e.path() / "environ");
    for (size_t at = 0; at < env.size();) {
      const size_t end = env.find('\0', at);
      if (env.compare(at, (end == std::string::npos ? env.size() : end) - at, wanted) == 0)
        return static_cast<pid_t>(std::stol(name));
      if (end == std::string::npos) break;
      at = end + 1;
    }
  }
  return 0;
}

// Whether two checkpoints hold the same tensors (weights and optimizer state), bit for bit; names the first that
// differs.
inline void check_same_tensors(const fs::path& a, const fs::path& b) {
  const SafetensorsFile x = load_safetensors(a), y = load_safetensors(b);
  REQUIRE(x.tensors.size() == y.tensors.size());
  for (size_t i = 0; i < x.tensors.size(); ++i) {
    INFO("tensor " << x.tensors[i].name);
    REQUIRE(x.tensors[i].name == y.tensors[i].name);
    const Tensor& s = x.tensors[i].tensor;
    const Tensor& t = y.tensors[i].tensor;
    REQUIRE(s.shape() == t.shape());
    CHECK(std::equal(s.bytes(), s.bytes() + s.nbytes(), t.bytes(), t.bytes() + t.nbytes()));
  }
}

}  // namespace tg::mpi_test
