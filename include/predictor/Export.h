#pragma once
// Symbol visibility. libpredictor is built with hidden visibility: only what
// carries PREDICTOR_API is exported, so its internals (kernels, planner, a
// private OpenBLAS) neither interpose on nor get interposed by other code in
// the process.

#define PREDICTOR_API __attribute__((visibility("default")))

// The generated protobuf classes (predictor/caffe.pb.h, through
// predictor/CaffeProto.h) carry this mark.
#ifndef PREDICTOR_PROTO_API
#define PREDICTOR_PROTO_API PREDICTOR_API
#endif
