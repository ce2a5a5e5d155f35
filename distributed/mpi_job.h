// Data-parallel training across processes started by `mpirun` or `srun`: this process's place in the job and the
// train::Collective fit sums gradients with (FitOptions::collective). Built on MPI when the build has it
// (TAPEGRAD_MPI, on when CMake finds MPI); without it the same calls exist and refuse to run as part of a job of
// several processes, so a mistaken launch stops with a message instead of training N copies side by side.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "train/collective.h"

namespace tg::distributed {

// Whether this build can train across processes (it was built with MPI).
bool built_with_mpi();

// The number of processes of the MPI job this process was started in, read from the launcher's environment
// (Open MPI's OMPI_COMM_WORLD_SIZE, PMI_SIZE of MPICH's Hydra and of srun --mpi=pmi2, PMIX_SIZE of PMIx
// launchers); 1 when it was started on its own.
int launched_processes();

// Compute threads for each process of a job, so that the processes on one machine share its cores instead of each
// taking all of them: the hardware threads divided by the job's processes on this machine (Open MPI's
// OMPI_COMM_WORLD_LOCAL_SIZE, Hydra's MPI_LOCALNRANKS, Slurm's SLURM_NTASKS_PER_NODE), at least 1; 0 (leave the
// count as it is) when OMP_NUM_THREADS is set.
int threads_per_process();

// Whether the gradient's sum overlaps the backward pass (FitOptions::overlap_gradient_sum): TAPEGRAD_MPI_OVERLAP=1
// turns it on, 0 off; unset or `auto` leaves the choice to fit (on when the processes span machines). Anything else
// is an error naming the variable.
std::optional<bool> overlap_from_env();
// The overlap's bucket size in bytes (FitOptions::gradient_bucket_bytes): TAPEGRAD_MPI_BUCKET_MB, a positive number
// of MiB (fractions allowed); `fallback` when unset.
int64_t bucket_bytes_from_env(int64_t fallback);

// The job's processes as a Collective, with MPI initialised (and finalised when the last reference goes); null when
// the process runs on its own. Throws when the launcher started several processes but this build has no MPI.
//
// Waiting: a collective that gets no answer for TAPEGRAD_MPI_TIMEOUT seconds (default 600) means a process died or
// hangs; every process is then stopped (MPI_Abort) with a message naming the rank and what it waited for. A
// SIGINT/SIGTERM arriving while a process waits is reported at once (the usual sign that mpirun is ending the job
// after a process died).
std::shared_ptr<train::Collective> join_job();

// Ends every process of the job with `exit_code` after printing `message` (prefixed with this rank) on stderr:
// what a process does after an error the others cannot know about, since they would wait for it forever.
[[noreturn]] void abort_job(const train::Collective& group, const std::string& message, int exit_code);

}  // namespace tg::distributed
