// A small CUDA C++ trainer for mlo's cuda runner: logistic regression by full-batch
// gradient descent, every step in kernels, on data it generates (no download).
//
//   ./train [--params params.yaml] [--out model.json] [--metrics metrics.json]
//
// Reads train.lr, train.steps, train.samples, train.features, train.seed from
// params.yaml (flat "key: value" lines under "train:"), writes the weights, the
// final metrics, and step-wise loss/accuracy to $MLO_METRICS_FILE (JSON lines
// {"key":..,"value":..,"step":..}, see man mlo-runners) when mlo sets it.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#define CHECK(call)                                                                          \
  do {                                                                                       \
    cudaError_t err_ = (call);                                                               \
    if (err_ != cudaSuccess) {                                                               \
      std::fprintf(stderr, "train: CUDA error at %s:%d: %s\n", __FILE__, __LINE__,          \
                   cudaGetErrorString(err_));                                                \
      std::exit(3);                                                                          \
    }                                                                                        \
  } while (0)

constexpr int kThreads = 256;

// r[i] = sigmoid(x_i . w + b) - y[i]; loss[i] = cross-entropy; hit[i] = correct prediction.
__global__ void forward(const float* x, const float* y, const float* w, float b, int n, int d, float* r,
                        float* loss, float* hit) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float z = b;
  for (int j = 0; j < d; ++j) z += x[i * d + j] * w[j];
  float p = 1.f / (1.f + expf(-z));
  r[i] = p - y[i];
  const float eps = 1e-7f;
  loss[i] = -(y[i] * logf(p + eps) + (1.f - y[i]) * logf(1.f - p + eps));
  hit[i] = ((p >= 0.5f) == (y[i] >= 0.5f)) ? 1.f : 0.f;
}

// out[col] = mean over i of v[i] * (col < d ? x[i*d+col] : 1): one block per column
// (the last column is the bias), a shared-memory tree reduction inside the block.
__global__ void column_mean(const float* x, const float* v, int n, int d, float* out) {
  __shared__ float part[kThreads];
  int col = blockIdx.x;
  float s = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += v[i] * (col < d ? x[i * d + col] : 1.f);
  part[threadIdx.x] = s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if (threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[col] = part[0] / n;
}

// Sum of v (for the loss and accuracy means), same reduction.
__global__ void mean(const float* v, int n, float* out) {
  __shared__ float part[kThreads];
  float s = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += v[i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if (threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = part[0] / n;
}

__global__ void step(float* w, float* b, const float* grad, int d, float lr) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j < d) w[j] -= lr * grad[j];
  if (j == d) *b -= lr * grad[d];
}

struct Params {
  float lr = 0.5f;
  int steps = 300;
  int samples = 65536;
  int features = 32;
  unsigned seed = 42;
};

// params.yaml: only "key: value" lines are read; the section prefix is ignored.
Params read_params(const std::string& path) {
  Params p;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    key.erase(0, key.find_first_not_of(" \t"));
    std::string value = line.substr(colon + 1);
    if (value.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      if (key == "lr") p.lr = std::stof(value);
      else if (key == "steps") p.steps = std::stoi(value);
      else if (key == "samples") p.samples = std::stoi(value);
      else if (key == "features") p.features = std::stoi(value);
      else if (key == "seed") p.seed = static_cast<unsigned>(std::stoul(value));
    } catch (const std::exception&) {
      std::fprintf(stderr, "train: %s: bad value for %s:%s\n", path.c_str(), key.c_str(), value.c_str());
      std::exit(2);
    }
  }
  return p;
}

int main(int argc, char** argv) {
  std::string params_path = "params.yaml", out_path = "model.json", metrics_path = "metrics.json";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--params") params_path = argv[i + 1];
    else if (a == "--out") out_path = argv[i + 1];
    else if (a == "--metrics") metrics_path = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: train [--params FILE] [--out FILE] [--metrics FILE]\n");
      return 2;
    }
  }
  Params p = read_params(params_path);
  if (p.samples <= 0 || p.features <= 0 || p.steps < 0 || !(p.lr > 0)) {
    std::fprintf(stderr, "train: samples, features and lr must be positive\n");
    return 2;
  }

  int devices = 0;
  cudaError_t e = cudaGetDeviceCount(&devices);
  if (e != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "train: no CUDA device available (%s); run it through mlo's cuda runner on a GPU machine\n",
                 e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    return 4;
  }
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("train: %s, %d samples x %d features, lr %g, %d steps\n", prop.name, p.samples, p.features, p.lr,
              p.steps);

  // Data: x ~ N(0,1); y ~ Bernoulli(sigmoid(x . w_true)).
  const int n = p.samples, d = p.features;
  std::mt19937 rng(p.seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  std::vector<float> w_true(d), x(static_cast<size_t>(n) * d), y(n);
  for (auto& v : w_true) v = normal(rng);
  for (int i = 0; i < n; ++i) {
    float z = 0.f;
    for (int j = 0; j < d; ++j) z += (x[static_cast<size_t>(i) * d + j] = normal(rng)) * w_true[j];
    y[i] = uniform(rng) < 1.f / (1.f + std::exp(-z)) ? 1.f : 0.f;
  }

  float *dx, *dy, *dw, *db, *dr, *dloss, *dhit, *dgrad, *dscalar;
  CHECK(cudaMalloc(&dx, sizeof(float) * x.size()));
  CHECK(cudaMalloc(&dy, sizeof(float) * n));
  CHECK(cudaMalloc(&dw, sizeof(float) * d));
  CHECK(cudaMalloc(&db, sizeof(float)));
  CHECK(cudaMalloc(&dr, sizeof(float) * n));
  CHECK(cudaMalloc(&dloss, sizeof(float) * n));
  CHECK(cudaMalloc(&dhit, sizeof(float) * n));
  CHECK(cudaMalloc(&dgrad, sizeof(float) * (d + 1)));
  CHECK(cudaMalloc(&dscalar, sizeof(float) * 2));
  CHECK(cudaMemcpy(dx, x.data(), sizeof(float) * x.size(), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(dy, y.data(), sizeof(float) * n, cudaMemcpyHostToDevice));
  CHECK(cudaMemset(dw, 0, sizeof(float) * d));
  CHECK(cudaMemset(db, 0, sizeof(float)));

  FILE* series = nullptr;
  if (const char* m = std::getenv("MLO_METRICS_FILE")) series = std::fopen(m, "a");
  const int blocks = (n + kThreads - 1) / kThreads;
  float loss = 0.f, acc = 0.f, b = 0.f;
  cudaEvent_t t0, t1;
  CHECK(cudaEventCreate(&t0));
  CHECK(cudaEventCreate(&t1));
  CHECK(cudaEventRecord(t0));
  for (int s = 0; s <= p.steps; ++s) {
    CHECK(cudaMemcpy(&b, db, sizeof(float), cudaMemcpyDeviceToHost));
    forward<<<blocks, kThreads>>>(dx, dy, dw, b, n, d, dr, dloss, dhit);
    if (s % 10 == 0 || s == p.steps) {
      mean<<<1, kThreads>>>(dloss, n, dscalar);
      mean<<<1, kThreads>>>(dhit, n, dscalar + 1);
      float h[2];
      CHECK(cudaMemcpy(h, dscalar, sizeof h, cudaMemcpyDeviceToHost));
      loss = h[0];
      acc = h[1];
      if (series) {
        std::fprintf(series, "{\"key\":\"loss\",\"value\":%.6f,\"step\":%d}\n", loss, s);
        std::fprintf(series, "{\"key\":\"accuracy\",\"value\":%.6f,\"step\":%d}\n", acc, s);
        std::fflush(series);
      }
      if (s % 100 == 0 || s == p.steps) std::printf("step %4d  loss %.4f  accuracy %.4f\n", s, loss, acc);
    }
    if (s == p.steps) break;
    column_mean<<<d + 1, kThreads>>>(dx, dr, n, d, dgrad);
    step<<<(d + 1 + kThreads - 1) / kThreads, kThreads>>>(dw, db, dgrad, d, p.lr);
  }
  CHECK(cudaGetLastError());
  CHECK(cudaEventRecord(t1));
  CHECK(cudaEventSynchronize(t1));
  float ms = 0.f;
  CHECK(cudaEventElapsedTime(&ms, t0, t1));
  if (series) std::fclose(series);

  std::vector<float> w(d);
  CHECK(cudaMemcpy(w.data(), dw, sizeof(float) * d, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(&b, db, sizeof(float), cudaMemcpyDeviceToHost));
  // Cosine between learned and true weights: did it find the signal?
  double dot = 0, nw = 0, nt = 0;
  for (int j = 0; j < d; ++j) dot += w[j] * w_true[j], nw += w[j] * w[j], nt += w_true[j] * w_true[j];
  double cosine = dot / (std::sqrt(nw) * std::sqrt(nt) + 1e-12);

  std::ofstream model(out_path);
  model << "{\"bias\": " << b << ", \"weights\": [";
  for (int j = 0; j < d; ++j) model << (j ? ", " : "") << w[j];
  model << "]}\n";
  std::ofstream metrics(metrics_path);
  metrics << "{\"loss\": " << loss << ", \"accuracy\": " << acc << ", \"weight_cosine\": " << cosine
          << ", \"steps\": " << p.steps << ", \"train_ms\": " << ms << ", \"gpu\": \"" << prop.name << "\"}\n";
  std::printf("done in %.1f ms: loss %.4f, accuracy %.4f, cosine to the true weights %.3f\n", ms, loss, acc, cosine);
  for (float* ptr : {dx, dy, dw, db, dr, dloss, dhit, dgrad, dscalar}) cudaFree(ptr);
  return 0;
}
