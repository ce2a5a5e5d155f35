// The build without MPI (TAPEGRAD_MPI=OFF or no MPI found): one process, and a clear refusal under mpirun.
#if !TAPEGRAD_HAVE_MPI
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "distributed/mpi_job.h"

namespace tg::distributed {

bool built_with_mpi() { return false; }

std::shared_ptr<train::Collective> join_job() {
  if (const int n = launched_processes(); n > 1)
    throw std::runtime_error("this tapegrad was built without MPI, but the launcher started " + std::to_string(n) +
                             " processes, which would each train alone; install Open MPI (libopenmpi-dev) and "
                             "rebuild (CMake option TAPEGRAD_MPI), or run one process");
  return nullptr;
}

void abort_job(const train::Collective&, const std::string& message, int exit_code) {
  std::fprintf(stderr, "tapegrad: %s\n", message.c_str());
  std::exit(exit_code);
}

}  // namespace tg::distributed
#endif
