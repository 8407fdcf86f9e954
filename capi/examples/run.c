/* Loads a model through the qpose C API, runs it a few times on a fixed input and prints
 * the shapes and a checksum of every output. Build and run: capi/run_c_example.sh */
#include <stdio.h>
#include <stdlib.h>

#include "qpose.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.onnx [RUNS]\n", argv[0]);
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    char err[512];
    qpose_model *model = qpose_model_load(argv[1], err, sizeof err);
    if (!model) {
        fprintf(stderr, "load failed: %s\n", err);
        return 1;
    }
    printf("qpose %s, arena %zu bytes\n", qpose_version(), qpose_model_arena_bytes(model));

    size_t n_in = qpose_model_input_count(model), n_out = qpose_model_output_count(model);
    float **inputs = calloc(n_in, sizeof *inputs);
    float **outputs = calloc(n_out, sizeof *outputs);
    for (size_t i = 0; i < n_in; i++) {
        size_t len = qpose_model_input_len(model, i);
        inputs[i] = malloc(len * sizeof(float));
        for (size_t k = 0; k < len; k++) inputs[i][k] = (float)((k * 37) % 251) / 125.0f - 1.0f;
    }
    for (size_t j = 0; j < n_out; j++) outputs[j] = malloc(qpose_model_output_len(model, j) * sizeof(float));

    for (int r = 0; r < runs; r++) {
        int rc = qpose_model_run(model, (const float *const *)inputs, outputs);
        if (rc != QPOSE_OK) {
            fprintf(stderr, "run failed (%d): %s\n", rc, qpose_model_last_error(model));
            return 1;
        }
    }
    for (size_t j = 0; j < n_out; j++) {
        size_t dims[8], nd = 0;
        if (qpose_model_output_shape(model, j, dims, 8, &nd) != QPOSE_OK) return 1;
        printf("output %s [", qpose_model_output_name(model, j));
        for (size_t d = 0; d < nd; d++) printf(d ? ", %zu" : "%zu", dims[d]);
        double sum = 0;
        for (size_t k = 0; k < qpose_model_output_len(model, j); k++) sum += outputs[j][k];
        printf("] sum %.6f\n", sum);
    }

    for (size_t i = 0; i < n_in; i++) free(inputs[i]);
    for (size_t j = 0; j < n_out; j++) free(outputs[j]);
    free(inputs);
    free(outputs);
    qpose_model_free(model);
    return 0;
}
