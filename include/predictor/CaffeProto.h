#pragma once
// The Caffe model format's generated classes (package predictor.caffe, from
// proto/predictor/caffe.proto; wire- and text-compatible with BVLC's
// caffe.proto): NetParameter, LayerParameter, BlobProto, ... Include this
// header, not the generated one: it defines the export mark the generated
// declarations carry. Only code that builds or inspects model definitions in
// C++ needs it; <predictor/Predictor.h> does not.

#include "predictor/Export.h"
#include "predictor/caffe.pb.h"
