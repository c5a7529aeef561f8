#pragma once
// What both coexistence programs check of the two reports.

#include <cstdio>
#include <cstdlib>
#include <string>

// BVLC's side must have run on BVLC's own classes, predictor's on its own,
// both must have read every weight value of the file, and the forward must
// give a softmax.
inline int check_reports(const std::string& bvlc, const std::string& predictor) {
  std::printf("BVLC side:      %s\npredictor side: %s\n", bvlc.c_str(), predictor.c_str());
  int failures = 0;
  auto expect = [&](bool ok, const char* what) {
    if (!ok) {
      std::printf("FAILED: %s\n", what);
      ++failures;
    }
  };
  expect(bvlc.rfind("schema caffe.proto package caffe ceil_mode no;", 0) == 0,
         "BVLC's code ran on BVLC's classes (file caffe.proto, package caffe, no predictor extension)");
  const auto bvlc_values = bvlc.substr(bvlc.rfind(", ") + 2);
  const auto predictor_values = predictor.substr(0, predictor.find(';'));
  expect(!bvlc_values.empty() && bvlc_values == predictor_values,
         "both sides read the same number of weight values from the .caffemodel");
  const auto sum_at = predictor.rfind("sum ");
  expect(sum_at != std::string::npos && std::abs(std::atof(predictor.c_str() + sum_at + 4) - 1.0) < 1e-4,
         "predictor's forward gave a softmax (sum 1)");
  return failures == 0 ? 0 : 1;
}
