// The launcher's environment: how many processes mpirun or srun started.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#include "distributed/mpi_job.h"

namespace tg::distributed {

namespace {
int env_count(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return *end == '\0' && n > 0 && n < (1L << 24) ? static_cast<int>(n) : 0;
}
}  // namespace

int launched_processes() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const int n = env_count(name)) return n;
  if (std::getenv("PMIX_RANK"))  // srun --mpi=pmix names the count only in Slurm's variables
    for (const char* name : {"SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"})
      if (const int n = env_count(name)) return n;
  return 1;
}

int threads_per_process() {
  if (std::getenv("OMP_NUM_THREADS")) return 0;
  int local = 1;
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const int n = env_count(name)) {
      local = n;
      break;
    }
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores / local);
}

}  // namespace tg::distributed
