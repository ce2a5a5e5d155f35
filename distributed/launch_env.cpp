// The launcher's environment: how many processes mpirun or srun started; the settings of the gradient's sum.
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <stdexcept>
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

std::optional<bool> overlap_from_env() {
  const char* v = std::getenv("TAPEGRAD_MPI_OVERLAP");
  if (!v || !*v || std::string(v) == "auto") return std::nullopt;
  if (std::string(v) == "1") return true;
  if (std::string(v) == "0") return false;
  throw std::invalid_argument(std::string("TAPEGRAD_MPI_OVERLAP='") + v + "' is neither 0 (the gradient's sum after "
                              "the backward pass), 1 (overlapping it) nor auto (overlapping it when the processes "
                              "span machines, the default)");
}

int64_t bucket_bytes_from_env(int64_t fallback) {
  const char* v = std::getenv("TAPEGRAD_MPI_BUCKET_MB");
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const double mb = std::strtod(v, &end);
  if (*end != '\0' || !(mb > 0) || mb > 1e6)
    throw std::invalid_argument(std::string("TAPEGRAD_MPI_BUCKET_MB='") + v + "' is not a number of MiB in (0, 1e6]");
  return std::max<int64_t>(1, static_cast<int64_t>(mb * 1048576.0));
}

}  // namespace tg::distributed
