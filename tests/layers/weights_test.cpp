// Weights by upstream key (layers/weights.hpp): from a .npy directory and from a .safetensors
// file under a prefix; every missing key, wrong shape and extra key is one line naming the key.

#include "sse/layers/weights.hpp"

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/io/npy.hpp"
#include "sse/io/safetensors.hpp"

#include "support/random.hpp"
#include <unistd.h>

namespace sse::test {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/" + name + "_" + std::to_string(::getpid());
}

TEST(Weights, FromNpyDirectoryAndChecks) {
  const std::string dir = temp_path("weights_npy");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::vector<float> q = randn<float>(6, 1), a = randn<float>(2, 2);
  io::write_npy(dir + "/q_proj.weight.npy", q.data(), {3, 2});
  io::write_npy(dir + "/A_log.npy", a.data(), {2});
  std::ofstream(dir + "/README.txt") << "ignored";
  const Weights w = Weights::from_npy_directory(dir);
  EXPECT_EQ(w.size(), 2u);
  EXPECT_EQ(w.at("q_proj.weight").data, q);
  EXPECT_TRUE(check_parameters(w, {{"q_proj.weight", {3, 2}}, {"A_log", {2}}}).ok());
  EXPECT_EQ(
      check_parameters(w, {{"q_proj.weight", {3, 2}}, {"A_log", {2}}, {"k_proj.weight", {3, 2}}})
          .message(),
      "k_proj.weight: missing in " + dir + " (expected float32 [3,2])");
  EXPECT_EQ(check_parameters(w, {{"q_proj.weight", {2, 3}}, {"A_log", {2}}}).message(),
            "q_proj.weight: expected shape [2,3], got [3,2] in " + dir);
  EXPECT_EQ(check_parameters(w, {{"q_proj.weight", {3, 2}}}).message(),
            "A_log: unexpected key in " + dir + " (not a parameter)");

  const std::vector<double> wide(4);
  io::write_npy(dir + "/bad.npy", wide.data(), {4});
  EXPECT_THROW(Weights::from_npy_directory(dir), sse::invalid_argument);
  fs::remove_all(dir);
}

TEST(Weights, FromSafetensorsUnderAPrefix) {
  const std::string path = temp_path("weights") + ".safetensors";
  const std::vector<float> q = randn<float>(6, 3), o = randn<float>(4, 4), e = randn<float>(8, 5);
  io::write_safetensors(path, {{"model.layers.3.attn.q_proj.weight", {3, 2}, q.data()},
                               {"model.layers.3.attn.o_proj.weight", {2, 2}, o.data()},
                               {"model.embeddings.weight", {4, 2}, e.data()}});
  const Weights w = Weights::from_safetensors(path, "model.layers.3.attn.");
  EXPECT_EQ(w.keys(), (std::vector<std::string>{"o_proj.weight", "q_proj.weight"}));
  EXPECT_EQ(w.at("q_proj.weight").data, q);
  EXPECT_NE(check_parameters(w, {{"q_proj.weight", {3, 2}}})
                .message()
                .find("o_proj.weight: unexpected key in " + path +
                      " (keys under 'model.layers.3.attn.')"),
            std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace sse::test
