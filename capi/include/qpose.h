/*
 * qpose C API: load a pose model (ONNX, fp32 or int8 QDQ, or a planned .qpose model from
 * `qpose compile`) once, run it many times into caller-owned buffers. Link with libqpose_c.a (plus -lpthread -ldl -lm) or libqpose_c.so.
 *
 * Every input and output is float32, dense, row-major, in the shape the model declares
 * (qpose_model_input_shape / qpose_model_output_shape); models with other input or output
 * types are refused at load. A model handle is not thread-safe: run one handle from one
 * thread at a time (several handles may run in parallel). Running allocates no memory.
 *
 * No Rust panic crosses these functions: an internal error is reported as QPOSE_ERR_INTERNAL.
 */
#ifndef QPOSE_H
#define QPOSE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes. */
#define QPOSE_OK 0
/* A null pointer, an index out of range or a too small buffer. */
#define QPOSE_ERR_ARGUMENT 1
/* The model could not be loaded, optimised or planned. */
#define QPOSE_ERR_LOAD 2
/* An inference failed. */
#define QPOSE_ERR_RUN 3
/* A bug in qpose (a caught panic). */
#define QPOSE_ERR_INTERNAL 4

typedef struct qpose_model qpose_model;

/* The library version, e.g. "0.1.0" (static string). */
const char *qpose_version(void);

/*
 * Loads and plans the model at `path` (NUL-terminated): a planned model (.qpose, recognised
 * by its header), or an ONNX file, imported and optimised first (a library built without the
 * `onnx` feature refuses ONNX files with a message saying so). Returns NULL on
 * failure and, when `err` is not NULL, writes a NUL-terminated message of at most
 * `err_len` bytes (truncated) into it.
 */
qpose_model *qpose_model_load(const char *path, char *err, size_t err_len);

/* Frees a model from qpose_model_load (NULL is allowed). */
void qpose_model_free(qpose_model *model);

/* Number of inputs / outputs (0 for a NULL model). */
size_t qpose_model_input_count(const qpose_model *model);
size_t qpose_model_output_count(const qpose_model *model);

/*
 * Shape of input / output `index`: writes its rank to *ndims and its dimensions to
 * dims[0 .. rank] (dims may be NULL when max_dims is 0, to ask for the rank only).
 * QPOSE_ERR_ARGUMENT if the index is out of range or max_dims < rank (*ndims is still set).
 */
int qpose_model_input_shape(const qpose_model *model, size_t index, size_t *dims, size_t max_dims, size_t *ndims);
int qpose_model_output_shape(const qpose_model *model, size_t index, size_t *dims, size_t max_dims, size_t *ndims);

/* Number of float values of input / output `index` (0 if out of range). */
size_t qpose_model_input_len(const qpose_model *model, size_t index);
size_t qpose_model_output_len(const qpose_model *model, size_t index);

/* Name of input / output `index` (NUL-terminated, owned by the model), NULL if out of range. */
const char *qpose_model_input_name(const qpose_model *model, size_t index);
const char *qpose_model_output_name(const qpose_model *model, size_t index);

/* Bytes of the model's activation arena, allocated once at load. */
size_t qpose_model_arena_bytes(const qpose_model *model);

/*
 * Runs the model. `inputs[i]` points to qpose_model_input_len(model, i) floats for every
 * input i; `outputs[j]` to qpose_model_output_len(model, j) floats for every output j, which
 * the run overwrites. Returns QPOSE_OK or an error code; the message is then available from
 * qpose_model_last_error.
 */
int qpose_model_run(qpose_model *model, const float *const *inputs, float *const *outputs);

/* The message of the last failed qpose_model_run on `model` ("" if none); valid until the next run. */
const char *qpose_model_last_error(const qpose_model *model);

#ifdef __cplusplus
}
#endif

#endif /* QPOSE_H */
