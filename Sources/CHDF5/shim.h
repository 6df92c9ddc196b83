#include <hdf5.h>
// HDF5 exposes these as macros that Swift cannot import; small inline wrappers make them callable.
static inline hid_t emovox_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t emovox_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t emovox_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t emovox_H5T_C_S1(void) { return H5T_C_S1; }
static inline unsigned emovox_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline size_t emovox_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline void emovox_H5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
