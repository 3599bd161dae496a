// Every chat template of the shared assets, rendered for every conversation of tests/fixtures/templates, must
// equal Python Jinja2's rendering (configured as transformers does) byte for byte; where Python raised, we
// must fail too. The references come from tests/fixtures/templates/make_reference.py.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../../test_util.h"
#include "tessera/tokenizer/chat/template.h"

namespace tessera::tokenizer::chat {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The instant make_reference.py freezes strftime_now() at.
RenderOptions frozen_options() {
  RenderOptions o;
  std::tm tm{};
  tm.tm_year = 2025 - 1900;
  tm.tm_mon = 2;
  tm.tm_mday = 14;
  tm.tm_hour = 15;
  tm.tm_min = 9;
  tm.tm_sec = 26;
  tm.tm_wday = 5;   // a Friday
  tm.tm_yday = 72;  // day 73 of the year, counted from 0
  o.now = tm;
  return o;
}

TEST(TemplateReference, AllTemplatesMatchJinja2) {
  const fs::path template_dir = fs::path(testing::assets_dir()) / "templates";
  TESSERA_REQUIRE_FILE(template_dir);
  const fs::path fixtures = fs::path(testing::fixtures_dir()) / "templates";
  const auto conversations = nlohmann::ordered_json::parse(read_text(fixtures / "conversations.json"));
  std::vector<fs::path> templates;
  for (const auto& e : fs::directory_iterator(template_dir))
    if (e.path().extension() == ".jinja") templates.push_back(e.path());
  std::sort(templates.begin(), templates.end());
  ASSERT_FALSE(templates.empty());

  const RenderOptions options = frozen_options();
  int agreeing = 0;
  std::vector<std::string> failing;
  for (const fs::path& path : templates) {
    const std::string stem = path.stem().string();
    const fs::path ref_path = fixtures / "reference" / (stem + ".json");
    ASSERT_TRUE(fs::exists(ref_path)) << "no reference for " << stem << "; run make_reference.py";
    const auto reference = nlohmann::ordered_json::parse(read_text(ref_path));
    auto tmpl = Template::parse(read_text(path));
    int bad = 0;
    for (const auto& conv : conversations) {
      const std::string name = conv["name"];
      const auto& expected = reference.at(name);
      Expected<std::string> got =
          tmpl.ok() ? tmpl->render(conv["context"], options) : Expected<std::string>(tmpl.status());
      if (expected.contains("error")) {
        if (got.ok()) {
          ++bad;
          ADD_FAILURE() << stem << " / " << name << ": Python raised " << expected["error"].get<std::string>()
                        << " but we rendered:\n"
                        << *got;
        }
      } else if (!got.ok()) {
        ++bad;
        ADD_FAILURE() << stem << " / " << name << ": we failed with " << got.status().to_string();
      } else if (*got != expected["output"].get<std::string>()) {
        ++bad;
        EXPECT_EQ(*got, expected["output"].get<std::string>()) << stem << " / " << name;
      }
    }
    if (bad == 0)
      ++agreeing;
    else
      failing.push_back(stem + " (" + std::to_string(bad) + " of " + std::to_string(conversations.size()) + ")");
  }
  std::string list;
  for (const auto& f : failing) list += "\n  " + f;
  std::printf("[ templates ] %d of %zu templates agree with Jinja2 on all %zu conversations%s\n", agreeing,
              templates.size(), conversations.size(), list.c_str());
  EXPECT_EQ(agreeing, static_cast<int>(templates.size()));
}

// One language feature per probe (scoping, whitespace control, filters, Python str methods, number printing,
// errors), each checked against Jinja2's own output.
TEST(TemplateReference, SnippetsMatchJinja2) {
  const fs::path fixtures = fs::path(testing::fixtures_dir()) / "templates";
  const auto snippets = nlohmann::ordered_json::parse(read_text(fixtures / "snippets.json"));
  const auto reference = nlohmann::ordered_json::parse(read_text(fixtures / "snippets_reference.json"));
  ASSERT_EQ(snippets.size(), reference.size()) << "run make_reference.py";
  const RenderOptions options = frozen_options();
  for (size_t i = 0; i < snippets.size(); ++i) {
    const std::string source = snippets[i]["template"];
    auto tmpl = Template::parse(source);
    Expected<std::string> got =
        tmpl.ok() ? tmpl->render(snippets[i]["context"], options) : Expected<std::string>(tmpl.status());
    const auto& expected = reference[i];
    if (expected.contains("error")) {
      EXPECT_FALSE(got.ok()) << "snippet " << i << ": Python raised " << expected["error"].get<std::string>() << "\n"
                             << source << "\nbut we rendered: " << *got;
    } else {
      if (!got.ok()) {
        ADD_FAILURE() << "snippet " << i << ":\n" << source << "\n" << got.status().to_string();
        continue;
      }
      EXPECT_EQ(*got, expected["output"].get<std::string>()) << "snippet " << i << ":\n" << source;
    }
  }
}

}  // namespace
}  // namespace tessera::tokenizer::chat
