// sse::sse_attention (attention/sse_attention.hpp, masked and sparse paths, both rules) against
// the float64 oracle (reference/naive_sse.hpp), and the equivalences DESIGN.md section 3 states.

#include "sse/attention/sse_attention.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/reference/naive_sse.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/compare.hpp"
#include "support/configs.hpp"
#include "support/sse_case.hpp"
#include <sys/mman.h>
#include <unistd.h>

namespace sse::test {
namespace {

template <class C>
class SseAttentionTest : public ::testing::Test {};
using Configs = ::testing::Types<Config<GlaRule, float>, Config<GlaRule, double>,
                                 Config<GdnRule, float>, Config<GdnRule, double>>;
TYPED_TEST_SUITE(SseAttentionTest, Configs, ConfigNames);

/// The float32 tests: each rule once.
template <class C>
class SseFloatTest : public ::testing::Test {};
using FloatConfigs = ::testing::Types<Config<GlaRule, float>, Config<GdnRule, float>>;
TYPED_TEST_SUITE(SseFloatTest, FloatConfigs, ConfigNames);

constexpr index_t kC = DefaultChunked::kChunkSize;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::string label(const SseShape& s, const AttentionOptions& opt) {
  std::ostringstream os;
  os << s << " KW=" << opt.writers << " KR=" << opt.readers << " path=" << int(opt.path)
     << " mode=" << int(opt.mode) << " emulq=" << opt.emulq << " emulk=" << opt.emulk;
  return os.str();
}

/// Runs `c` under `opt` (poisoned first, routing requested) and checks o, ht and the routing
/// against the oracle.
template <class Rule, class T>
void expect_matches_reference(SseCase<Rule, T>& c, const AttentionOptions& opt,
                              const reference::SseResult& ref, const std::string& what) {
  c.poison();
  sse_attention<Rule>(c.inputs(), c.outputs(/*with_routing=*/true), opt);
  EXPECT_LT(rel_error(c.o, ref.o), tolerance<T>()) << what;
  EXPECT_LT(rel_error(c.ht, ref.ht), tolerance<T>()) << what;
  EXPECT_TRUE(same_bits(c.p, ref.p)) << what;
  EXPECT_EQ(c.writer_ids, ref.writer_ids) << what;
  EXPECT_EQ(c.reader_ids, ref.reader_ids) << what;
}

// Both paths and both forms == float64 oracle over odd sizes (K, V not multiples of the SIMD
// width), N up to 8, k up to N, T around the chunk size, B > 1.
TYPED_TEST(SseAttentionTest, GridMatchesReference) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  struct Point {
    SseShape shape;
    index_t k;
  };
  const std::vector<Point> grid = {
      {{1, 1, 1, 1, 1, 1, {}}, 1},
      {{2, 7, 2, 5, 3, 3, {}}, 2},
      {{1, kC - 1, 2, 7, 9, 4, {}}, 1},
      {{1, kC + 1, 1, 16, 16, 4, {}}, 4},
      {{2, 2 * kC + 9, 2, 17, 11, 8, {}}, 3},
      {{1, 3 * kC + 5, 1, 33, 20, 8, {}}, 1},
      {{1, 150, 3, 8, 40, 2, {}}, 2},
      {{1, 97, 1, 24, 7, 5, {}}, 5},
  };
  std::uint64_t seed = 100;
  for (const Point& point : grid) {
    SseCase<Rule, T> c(point.shape, seed += 20, point.k, point.k);
    AttentionOptions opt = c.options();
    opt.qk_l2norm = false;  // GDN keys are drawn with |k| <= 1 instead
    const auto ref = reference::sse_attention<Rule>(c.inputs(), opt);
    for (Path path : {Path::kMasked, Path::kSparse}) {
      for (Mode mode : {Mode::kChunk, Mode::kRecurrent}) {
        opt.path = path;
        opt.mode = mode;
        expect_matches_reference(c, opt, ref, label(point.shape, opt));
      }
    }
  }
}

// writers != readers on the masked path (GLA: decay follows W; GDN: g2 and beta2 follow R), and
// emulq / emulk off, and qk_l2norm on (normalised after the p scaling).
TYPED_TEST(SseAttentionTest, WritersDifferFromReadersAndEmulOff) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::Type;
  const SseShape shape{1, 2 * kC + 3, 2, 9, 6, 5, {}};
  std::uint64_t seed = 400;
  for (auto [kw, kr] : {std::pair{1, 3}, std::pair{3, 1}, std::pair{2, 5}, std::pair{4, 2}}) {
    for (bool emulq : {true, false}) {
      for (bool emulk : {true, false}) {
        SseCase<Rule, T> c(shape, seed += 11, kw, kr);
        AttentionOptions opt = c.options();
        opt.emulq = emulq;
        opt.emulk = emulk;
        opt.qk_l2norm = (seed / 11) % 2 == 0;
        const auto ref = reference::sse_attention<Rule>(c.inputs(), opt);
        for (Mode mode : {Mode::kChunk, Mode::kRecurrent}) {
          opt.mode = mode;
          expect_matches_reference(c, opt, ref, label(shape, opt));  // auto -> masked
        }
      }
    }
  }
}

// The sparse path equals the masked path (to rounding), and auto picks sparse when it applies.
TYPED_TEST(SseFloatTest, SparseEqualsMaskedAndAutoPicksSparse) {
  using Rule = typename TypeParam::Rule;
  SseCase<Rule, float> c(SseShape{1, 300, 2, 32, 32, 6, {}}, 501, 2, 2);
  AttentionOptions opt = c.options();
  opt.path = Path::kMasked;
  sse_attention<Rule>(c.inputs(), c.outputs(), opt);
  const auto masked_o = c.o, masked_ht = c.ht;
  opt.path = Path::kSparse;
  c.poison();
  sse_attention<Rule>(c.inputs(), c.outputs(), opt);
  EXPECT_LT(rel_error(c.o, masked_o), 1e-5);
  EXPECT_LT(rel_error(c.ht, masked_ht), 1e-5);
  const auto sparse_o = c.o;
  opt.path = Path::kAuto;
  c.poison();
  sse_attention<Rule>(c.inputs(), c.outputs(), opt);
  EXPECT_TRUE(same_bits(c.o, sparse_o)) << "auto takes the sparse path when writers == readers";
}

// Packed sequences (with empty and length-1 ones) == each sequence run on its own.
TYPED_TEST(SseFloatTest, PackedSequencesEqualSeparateRuns) {
  using Rule = typename TypeParam::Rule;
  const std::vector<std::int64_t> cu = {0, 0, 1, 70, 70, 71, 200};
  const SseShape shape{1, 200, 2, 12, 10, 4, cu};
  for (Path path : {Path::kMasked, Path::kSparse}) {
    SseCase<Rule, float> packed(shape, 601, 2, 2);
    AttentionOptions opt = packed.options();
    opt.path = path;
    sse_attention<Rule>(packed.inputs(), packed.outputs(), opt);
    const index_t H = shape.H, K = shape.K, V = shape.V, N = shape.N;
    const std::size_t state = std::size_t((1 + N) * H * K * V);
    for (std::size_t s = 0; s + 1 < cu.size(); ++s) {
      const auto begin = index_t(cu[s]), L = index_t(cu[s + 1] - cu[s]);
      SseCase<Rule, float> one(SseShape{1, L, H, K, V, N, {}}, 1, 2, 2);
      auto slice = [](const auto& x, std::size_t from, std::size_t count) {
        return std::vector<typename std::decay_t<decltype(x)>::value_type>(
            x.begin() + std::ptrdiff_t(from), x.begin() + std::ptrdiff_t(from + count));
      };
      const auto row = std::size_t(begin);
      const std::size_t qk = std::size_t(H * K), hv = std::size_t(H * V), hs = std::size_t(H);
      const std::size_t gw = Rule::kPerKeyDecay ? qk : hs;
      const auto len = std::size_t(L);
      one.q1 = slice(packed.q1, row * qk, len * qk), one.k1 = slice(packed.k1, row * qk, len * qk);
      one.q2 = slice(packed.q2, row * qk, len * qk), one.k2 = slice(packed.k2, row * qk, len * qk);
      one.v = slice(packed.v, row * hv, len * hv);
      one.g1 = slice(packed.g1, row * gw, len * gw), one.g2 = slice(packed.g2, row * gw, len * gw);
      if (Rule::kHasBeta) {
        one.beta1 = slice(packed.beta1, row * hs, len * hs);
        one.beta2 = slice(packed.beta2, row * hs, len * hs);
      }
      one.eta = slice(packed.eta, row * std::size_t(N), len * std::size_t(N));
      one.h0 = slice(packed.h0, s * state, state);
      one.poison();
      sse_attention<Rule>(one.inputs(), one.outputs(), opt);
      EXPECT_LT(rel_error(one.o, slice(packed.o, row * hv, len * hv)), layout_tolerance<float>())
          << "sequence " << s << " path " << int(path);
      EXPECT_LT(rel_error(one.ht, slice(packed.ht, s * state, state)), layout_tolerance<float>())
          << "sequence " << s << " path " << int(path);
      if (L == 0) {
        EXPECT_TRUE(same_bits(slice(packed.ht, s * state, state), one.h0))
            << "an empty sequence keeps its state";
      }
    }
  }
}

// Prefill of P tokens, then T - P decode steps of one token each (state carried in place) ==
// one prefill of T tokens. Several sequences decode together through cu_seqlens.
TYPED_TEST(SseFloatTest, PrefillThenDecodeEqualsOnePrefill) {
  using Rule = typename TypeParam::Rule;
  const index_t S = 3, T = 90, P = 70, H = 2, K = 16, V = 8, N = 4;
  SseCase<Rule, float> full(SseShape{S, T, H, K, V, N, {}}, 701, 1, 1);
  AttentionOptions opt = full.options();
  sse_attention<Rule>(full.inputs(), full.outputs(), opt);

  // The state of every sequence lives in one buffer, updated in place.
  std::vector<float> state = full.h0;
  const std::size_t qk = std::size_t(H * K), hv = std::size_t(H * V);
  const std::size_t gw = Rule::kPerKeyDecay ? qk : std::size_t(H);
  auto tokens = [&](index_t from, index_t count) {  // rows [from, from + count) of all S
    SseCase<Rule, float> part(SseShape{S, count, H, K, V, N, {}}, 1, 1, 1);
    auto copy = [&](const std::vector<float>& src, std::vector<float>& dst, std::size_t width) {
      for (index_t s = 0; s < S; ++s) {
        for (index_t t = 0; t < count; ++t) {
          const auto* row = src.data() + std::size_t(s * T + from + t) * width;
          std::copy(row, row + width, dst.data() + std::size_t(s * count + t) * width);
        }
      }
    };
    copy(full.q1, part.q1, qk), copy(full.k1, part.k1, qk);
    copy(full.q2, part.q2, qk), copy(full.k2, part.k2, qk);
    copy(full.v, part.v, hv), copy(full.g1, part.g1, gw), copy(full.g2, part.g2, gw);
    if (Rule::kHasBeta)
      copy(full.beta1, part.beta1, std::size_t(H)), copy(full.beta2, part.beta2, std::size_t(H));
    copy(full.eta, part.eta, std::size_t(N));
    return part;
  };
  std::vector<float> o(full.o.size(), 0.0f);
  auto run = [&](index_t from, index_t count) {
    auto part = tokens(from, count);
    auto in = part.inputs();
    in.h0 = {state.data(), {S, 1 + N, H, K, V}};
    auto out = part.outputs();
    out.ht = {state.data(), {S, 1 + N, H, K, V}};
    sse_attention<Rule>(in, out, opt);
    for (index_t s = 0; s < S; ++s) {
      std::copy(part.o.begin() + std::ptrdiff_t(s * count) * std::ptrdiff_t(hv),
                part.o.begin() + std::ptrdiff_t(s * count + count) * std::ptrdiff_t(hv),
                o.begin() + std::ptrdiff_t(s * T + from) * std::ptrdiff_t(hv));
    }
  };
  run(0, P);
  for (index_t t = P; t < T; ++t) run(t, 1);
  EXPECT_LT(rel_error(o, full.o), 1e-5);
  EXPECT_LT(rel_error(state, full.ht), 1e-5);
}

// A partition whose logit is -inf at every token is never chosen while k is below the number of
// finite logits: its state keeps h0 bit for bit, on both paths, in place or not.
TYPED_TEST(SseFloatTest, NeverChosenPartitionKeepsItsStateBitForBit) {
  using Rule = typename TypeParam::Rule;
  const SseShape shape{2, 100, 2, 8, 8, 5, {}};
  const index_t never = 3;  // partition id; state index never + 1
  for (Path path : {Path::kMasked, Path::kSparse}) {
    SseCase<Rule, float> c(shape, 801, 3, 3);
    for (std::size_t t = 0; t < c.token_count(); ++t) c.eta[t * 5 + never] = kNegInf;
    AttentionOptions opt = c.options();
    opt.path = path;
    sse_attention<Rule>(c.inputs(), c.outputs(), opt);
    const std::size_t block = std::size_t(shape.H * shape.K * shape.V);
    for (index_t s = 0; s < shape.B; ++s) {
      const std::size_t at = std::size_t(s * (1 + shape.N) + never + 1) * block;
      EXPECT_EQ(0, std::memcmp(c.ht.data() + at, c.h0.data() + at, block * sizeof(float)))
          << "sequence " << s << " path " << int(path);
    }
  }
}

// ht == h0 (in place) equals separate buffers; a state pool with permuted slots equals
// contiguous states and leaves the other slots untouched.
TYPED_TEST(SseFloatTest, InPlaceAndStatePool) {
  using Rule = typename TypeParam::Rule;
  const std::vector<std::int64_t> cu = {0, 40, 41, 41, 130};
  const SseShape shape{1, 130, 2, 10, 6, 3, cu};
  SseCase<Rule, float> c(shape, 901, 2, 2);
  sse_attention<Rule>(c.inputs(), c.outputs(), c.options());
  const auto o_ref = c.o, ht_ref = c.ht;

  auto in = c.inputs();
  std::vector<float> state = c.h0;
  in.h0 = {state.data(), {4, 1 + shape.N, shape.H, shape.K, shape.V}};
  auto out = c.outputs();
  out.ht = {state.data(), in.h0.extents()};
  c.poison();
  sse_attention<Rule>(in, out, c.options());
  EXPECT_TRUE(same_bits(c.o, o_ref)) << "in place";
  EXPECT_TRUE(same_bits(state, ht_ref)) << "in place";

  // Pool of 7 slots; sequence s lives in slot slots[s].
  const std::vector<std::int64_t> slots = {5, 0, 3, 6};
  const std::size_t block = c.h0.size() / 4;
  std::vector<float> pool = randn<float>(7 * block, 902);
  for (std::size_t s = 0; s < 4; ++s) {
    std::copy(c.h0.begin() + std::ptrdiff_t(s * block),
              c.h0.begin() + std::ptrdiff_t((s + 1) * block),
              pool.begin() + std::ptrdiff_t(std::size_t(slots[s]) * block));
  }
  const std::vector<float> pool_before = pool;
  in = c.inputs();
  in.state_slots = {slots.data(), {4}};
  in.h0 = {pool.data(), {7, 1 + shape.N, shape.H, shape.K, shape.V}};
  out.ht = {pool.data(), in.h0.extents()};
  c.poison();
  sse_attention<Rule>(in, out, c.options());
  EXPECT_TRUE(same_bits(c.o, o_ref)) << "pool";
  for (std::size_t slot = 0; slot < 7; ++slot) {
    const auto s = std::find(slots.begin(), slots.end(), std::int64_t(slot)) - slots.begin();
    const float* got = pool.data() + slot * block;
    const float* want =
        s < 4 ? ht_ref.data() + std::size_t(s) * block : pool_before.data() + slot * block;
    EXPECT_EQ(0, std::memcmp(got, want, block * sizeof(float))) << "slot " << slot;
  }
}

// Equal logits: the lower partition index wins, in the routing returned and in the result.
TYPED_TEST(SseFloatTest, TiesGoToTheLowerIndex) {
  using Rule = typename TypeParam::Rule;
  SseCase<Rule, float> c(SseShape{1, 40, 1, 8, 4, 6, {}}, 1001, 2, 3);
  for (std::size_t t = 0; t < c.token_count(); ++t) {
    for (std::size_t n = 0; n < 6; ++n) c.eta[t * 6 + n] = (t % 3 == 0) ? 0.5f : float(n % 2);
  }
  AttentionOptions opt = c.options();
  const auto ref = reference::sse_attention<Rule>(c.inputs(), opt);
  expect_matches_reference(c, opt, ref, "ties");
  EXPECT_EQ(c.writer_ids[0], 0);
  EXPECT_EQ(c.writer_ids[1], 1);
  EXPECT_EQ(c.reader_ids[3 * 1 + 0], 1);  // token 1: partitions 1, 3, 5 have logit 1
  EXPECT_EQ(c.reader_ids[3 * 1 + 1], 3);
  EXPECT_EQ(c.reader_ids[3 * 1 + 2], 5);
}

// 1, 2 and 3 threads and a caller's workspace give the same bits, on both paths.
TYPED_TEST(SseFloatTest, ThreadsAndWorkspaceDoNotChangeBits) {
  using Rule = typename TypeParam::Rule;
  for (auto [kw, kr] : {std::pair{2, 2}, std::pair{1, 3}}) {
    SseCase<Rule, float> c(SseShape{2, 2 * kC + 9, 2, 16, 24, 4, {}}, 1101, kw, kr);
    const AttentionOptions opt = c.options();
    sse_attention<Rule>(c.inputs(), c.outputs(true), opt);
    const auto o1 = c.o, ht1 = c.ht;
    for (std::size_t threads : {2u, 3u}) {
      ThreadPool pool(threads);
      c.poison();
      sse_attention<Rule>(c.inputs(), c.outputs(true), opt, pool);
      EXPECT_TRUE(same_bits(c.o, o1)) << threads << " threads";
      EXPECT_TRUE(same_bits(c.ht, ht1)) << threads << " threads";

      std::vector<std::byte> memory(
          sse_attention_workspace_size<Rule>(c.inputs(), c.outputs(), opt, pool));
      c.poison();
      sse_attention<Rule>(c.inputs(), c.outputs(), opt, pool,
                          Workspace(memory.data(), memory.size()));
      EXPECT_TRUE(same_bits(c.o, o1)) << threads << " threads with a workspace";
      EXPECT_TRUE(same_bits(c.ht, ht1)) << threads << " threads with a workspace";
    }
  }
}

// No h0 (zero states) and no ht: o still matches the oracle with zero initial states.
TYPED_TEST(SseFloatTest, AbsentStates) {
  using Rule = typename TypeParam::Rule;
  SseCase<Rule, float> c(SseShape{1, 80, 2, 8, 8, 3, {}}, 1201, 1, 1, GateRange{}, false);
  const auto ref = reference::sse_attention<Rule>(c.inputs(), c.options());
  auto out = c.outputs();
  out.ht = {};
  sse_attention<Rule>(c.inputs(), out, c.options());
  EXPECT_LT(rel_error(c.o, ref.o), 1e-5);
}

// A decode step on the sparse path touches only the shared state and the selected partitions:
// the state lives in place in a pool with one page per (sequence, state) block, and every block
// no token selects is made inaccessible (PROT_NONE), so reading or writing it would crash. The
// result equals the same call on ordinary memory.
TYPED_TEST(SseFloatTest, SparseDecodeTouchesOnlySelectedPartitions) {
  using Rule = typename TypeParam::Rule;
  const SseShape shape{3, 1, 2, 16, 8, 5, {}};
  SseCase<Rule, float> c(shape, 1301, 2, 2);
  AttentionOptions opt = c.options();
  opt.path = Path::kSparse;
  sse_attention<Rule>(c.inputs(), c.outputs(/*with_routing=*/true), opt);
  const auto o_ref = c.o, ht_ref = c.ht;

  const auto page = std::size_t(::sysconf(_SC_PAGESIZE));
  const std::size_t block = std::size_t(shape.H * shape.K * shape.V);  // floats per block
  ASSERT_LE(block * sizeof(float), page);
  const index_t blocks = 3 * (1 + shape.N);
  void* memory = ::mmap(nullptr, page * std::size_t(blocks), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  auto* pool = static_cast<float*>(memory);
  const auto stride = index_t(page / sizeof(float));  // one page per block
  for (index_t b = 0; b < blocks; ++b) {
    std::copy_n(c.h0.data() + b * index_t(block), block, pool + b * stride);
  }
  std::vector<bool> selected(std::size_t(blocks), false);
  for (index_t s = 0; s < 3; ++s) {
    selected[std::size_t(s * (1 + shape.N))] = true;  // the shared state
    for (index_t i = 0; i < 2; ++i) {
      selected[std::size_t(s * (1 + shape.N) + 1 + c.writer_ids[std::size_t(s * 2 + i)])] = true;
    }
  }
  for (index_t b = 0; b < blocks; ++b) {
    if (!selected[std::size_t(b)]) {
      ASSERT_EQ(::mprotect(pool + b * stride, page, PROT_NONE), 0);
    }
  }
  auto in = c.inputs();
  auto out = c.outputs();
  const Extents<5> extents{3, 1 + shape.N, shape.H, shape.K, shape.V};
  const Extents<5> strides{(1 + shape.N) * stride, stride, shape.K * shape.V, shape.V, 1};
  in.h0 = {pool, extents, strides};
  out.ht = {pool, extents, strides};
  c.poison();
  sse_attention<Rule>(in, out, opt);
  EXPECT_TRUE(same_bits(c.o, o_ref));
  for (index_t b = 0; b < blocks; ++b) {
    if (!selected[std::size_t(b)]) continue;
    EXPECT_EQ(0, std::memcmp(pool + b * stride, ht_ref.data() + b * index_t(block),
                             block * sizeof(float)))
        << "state block " << b;
  }
  ::munmap(memory, page * std::size_t(blocks));
}

}  // namespace
}  // namespace sse::test
