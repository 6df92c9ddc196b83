// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM) are macros over internal globals, which Swift cannot
// import: these inline wrappers give the few calls emovox uses plain C signatures. Each returns an MPI error code.
#include <mpi.h>

static inline int emovox_mpi_initialized(void) { int f = 0; MPI_Initialized(&f); return f; }
static inline int emovox_mpi_finalized(void) { int f = 0; MPI_Finalized(&f); return f; }
/// MPI is called from the main thread only (compute threads never touch it): FUNNELED.
static inline int emovox_mpi_init(void) { int provided = 0; return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided); }
static inline int emovox_mpi_finalize(void) { return MPI_Finalize(); }
static inline int emovox_mpi_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
static inline int emovox_mpi_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }
static inline int emovox_mpi_allreduce_sum_float(float *buffer, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static inline int emovox_mpi_bcast_float(float *buffer, int count, int root) {
    return MPI_Bcast(buffer, count, MPI_FLOAT, root, MPI_COMM_WORLD);
}
static inline int emovox_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static inline int emovox_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
static inline int emovox_mpi_error_string(int code, char *text, int *length) { return MPI_Error_string(code, text, length); }
