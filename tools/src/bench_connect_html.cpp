#include "bench_connect_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <vector>

#include "bench_connect_model.hpp"

namespace natsim::tools::bench {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxCdfPoints = 1000;  // a million runs still draw a small SVG

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string text(const json& v) {
  if (v.is_string()) return escape(v.get<std::string>());
  if (v.is_null()) return "-";
  return escape(v.dump());
}

// A field of a report's "bench" object, which --merge takes from its input as it is: a
// missing one shows as "-".
json get(const json& o, const char* key) {
  return o.is_object() && o.contains(key) ? o[key] : json();
}

std::string number(double x, const char* format = "%.0f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, x);
  return buf;
}

std::string path_class(const std::string& path) {
  if (is_direct(path)) return "direct";
  if (path == "relay") return "relay";
  return "failed";
}

constexpr const char* kStyle = R"(body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table.params td,table.params th{text-align:left;padding:1px 10px 1px 0;vertical-align:top}
table.grid{border-collapse:collapse}table.grid th{font-weight:normal;font-size:12px;padding:2px 4px}
table.grid td{width:92px;height:42px;text-align:center;border:1px solid #fff;font-size:12px;cursor:default}
td.direct{background:#5cb85c;color:#fff}td.relay{background:#f0ad4e}td.failed{background:#d9534f;color:#fff}
td.empty{background:#eee}td.cell:hover{outline:2px solid #222}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px}
#detail{min-height:1.4em;font-family:monospace;white-space:pre}
svg.cdf{border:1px solid #ccc;background:#fafafa;margin:0 12px 12px 0}
svg.cdf text{font-size:11px}code{background:#f3f3f3;padding:1px 4px})";

// Shows a cell's breakdown under the grid as the pointer moves (the title has it too).
constexpr const char* kScript = R"(document.addEventListener('mouseover',function(e){
var c=e.target.closest('td.cell');if(!c)return;
document.getElementById('detail').textContent=c.getAttribute('title');});)";

void params(std::string& out, const json& report) {
  const json b = get(report, "bench");
  const json seeds = get(b, "seeds");
  out += "<h2>Parameters</h2>\n<table class=\"params\" id=\"params\">\n";
  auto row = [&](const std::string& k, const std::string& v) {
    out += "<tr><th>" + k + "</th><td>" + v + "</td></tr>\n";
  };
  row("natsim version", text(report["natsim_version"]));
  row("file", text(get(b, "file")));
  row("scenario", text(get(b, "name")) + " (" + text(get(b, "scenario")) + ")");
  row("connect action", text(get(b, "connect")));
  row("variants", text(get(b, "variants")));
  const bool have_seeds = get(seeds, "from").is_number();
  row("seeds", have_seeds ? text(get(seeds, "from")) + ".." + text(get(seeds, "to")) + " (" +
                                text(get(seeds, "count")) + " per variant)"
                          : "none");
  row("runs", text(get(b, "runs")));
  row("plan fingerprint", text(get(b, "plan")));
  if (get(b, "shard").is_string()) row("shard", text(get(b, "shard")));
  row("quantiles", text(report["quantiles"]));
  if (report.contains("wall_s"))
    row("wall time", number(report["wall_s"].get<double>(), "%.2f") + " s");
  if (report.value("interrupted", false)) row("interrupted", "yes: a partial report");
  if (have_seeds) {
    row("reproduce", "<code>natsim bench-connect " + text(get(b, "file")) + " --seed-range " +
                         text(get(seeds, "from")) + ".." + text(get(seeds, "to")) +
                         " --no-wall --html FILE</code>");
  }
  out += "</table>\n";
}

void population(std::string& out, const json& report) {
  if (!report.contains("population")) return;
  const json& p = report["population"];
  out += "<h2>Population: " + text(p["name"]) + "</h2>\n<p>" + text(p["description"]) +
         "</p>\n<p>Weights: ";
  bool first = true;
  for (const auto& [nat, w] : p["weights"].items()) {
    out += (first ? "" : ", ") + escape(nat) + " " + text(w);
    first = false;
  }
  out += "</p>\n<ul id=\"population\">\n";
  const double field = p["field"]["direct_rate"].get<double>();
  for (const json& r : p["results"]) {
    out += "<li>" + text(r["conditions"]) + ", " + text(r["strategy"]) + ": ";
    if (!r["direct_rate"].is_number()) {
      out += "no runs of its NAT pairs</li>\n";
      continue;
    }
    out += "expected direct-connection rate <b>" +
           number(r["direct_rate"].get<double>() * 100, "%.1f") + "%</b> (field figure " +
           number(field * 100, "%.0f") + "% " + text(p["field"]["what"]) + ", " +
           text(p["field"]["source"]) + "; " +
           number(r["versus_field_points"].get<double>(), "%+.1f") + " points)";
    if (r["setup_ms"].is_object()) {
      out += "; setup p50 " + text(r["setup_ms"]["p50"]) + " ms, p90 " +
             text(r["setup_ms"]["p90"]) + " ms, p99 " + text(r["setup_ms"]["p99"]) + " ms";
    }
    out += "</li>\n";
  }
  out += "</ul>\n";
}

std::string breakdown(const json& c) {
  std::string t = c["nat_a"].get<std::string>() + " x " + c["nat_b"].get<std::string>() + ": " +
                  std::to_string(c["connected"].get<std::size_t>()) + "/" +
                  std::to_string(c["runs"].get<std::size_t>()) + " connected;";
  for (const auto& [p, n] : c["paths"].items())
    t += " " + p + " " + std::to_string(n.get<std::size_t>());
  if (c["setup_ms"].is_object()) {
    t += "; setup p50/p90/p99/max " + c["setup_ms"]["p50"].dump() + "/" +
         c["setup_ms"]["p90"].dump() + "/" + c["setup_ms"]["p99"].dump() + "/" +
         c["setup_ms"]["max"].dump() + " ms";
  }
  t += "; mean ms:";
  for (const auto& [m, v] : c["milestones_ms"].items())
    t += " " + m.substr(0, m.size() - 3) + " " + (v.is_null() ? "-" : v.dump());
  return t;
}

void grids(std::string& out, const json& report) {
  std::map<std::pair<std::string, std::string>, std::vector<const json*>> groups;
  for (const json& c : report["cells"])
    groups[{c["conditions"], c["strategy"]}].push_back(&c);
  out +=
      "<h2>NAT A x NAT B</h2>\n<p class=\"legend\"><span class=\"direct\" "
      "style=\"background:#5cb85c;color:#fff\">direct</span><span style=\"background:#f0ad4e\">"
      "relay</span><span style=\"background:#d9534f;color:#fff\">failed</span> most runs' "
      "path, and the setup p50 in simulated ms; hover for the breakdown.</p>\n"
      "<div id=\"detail\"></div>\n";
  for (const auto& [group, cells] : groups) {
    std::vector<std::string> as;
    std::vector<std::string> bs;
    std::map<std::pair<std::string, std::string>, const json*> at;
    for (const json* c : cells) {
      as.push_back((*c)["nat_a"]);
      bs.push_back((*c)["nat_b"]);
      at[{(*c)["nat_a"], (*c)["nat_b"]}] = c;
    }
    std::sort(as.begin(), as.end());
    as.erase(std::unique(as.begin(), as.end()), as.end());
    std::sort(bs.begin(), bs.end());
    bs.erase(std::unique(bs.begin(), bs.end()), bs.end());
    out += "<h3>conditions " + escape(group.first) + "; strategy " + escape(group.second) +
           "</h3>\n<table class=\"grid\" data-conditions=\"" + escape(group.first) +
           "\" data-strategy=\"" + escape(group.second) + "\">\n<tr><th>A \\ B</th>";
    for (const std::string& b : bs)
      out += "<th>" + escape(b) + "</th>";
    out += "</tr>\n";
    for (const std::string& a : as) {
      out += "<tr><th>" + escape(a) + "</th>";
      for (const std::string& b : bs) {
        const auto it = at.find({a, b});
        if (it == at.end()) {
          out += "<td class=\"empty\"></td>";
          continue;
        }
        const json& c = *it->second;
        const std::string path = c["path"];
        const std::string p50 =
            c["setup_ms"].is_object() ? number(c["setup_ms"]["p50"].get<double>(), "%.1f") : "none";
        out += "<td class=\"cell " + path_class(path) + "\" data-nat-a=\"" + escape(a) +
               "\" data-nat-b=\"" + escape(b) + "\" data-path=\"" + escape(path) +
               "\" data-p50=\"" + escape(p50) + "\" title=\"" + escape(breakdown(c)) + "\">" +
               escape(path) + "<br>" + escape(p50) + (p50 == "none" ? "" : " ms") + "</td>";
      }
      out += "</tr>\n";
    }
    out += "</table>\n";
  }
}

void cdfs(std::string& out, const json& report) {
  // Connected runs' setup times by strategy, from the samples.
  std::vector<std::string> strategy_of;
  for (const json& v : report["variants"])
    strategy_of.push_back(v["strategy"]);
  std::map<std::string, std::vector<double>> by;
  for (const std::string& s : strategy_of)
    by[s];
  double top = 0;
  for (const json& s : report["samples"]) {
    const auto v = s["variant"].get<std::size_t>();
    if (v >= strategy_of.size() || !s["setup_ms"].is_number()) continue;
    by[strategy_of[v]].push_back(s["setup_ms"].get<double>());
    top = std::max(top, s["setup_ms"].get<double>());
  }
  out += "<h2>Setup time CDF per strategy</h2>\n";
  constexpr double kW = 420, kH = 220, kL = 40, kB = 30, kT = 22;
  const double scale = top > 0 ? top : 1;
  for (auto& [strategy, values] : by) {
    std::sort(values.begin(), values.end());
    out += "<svg class=\"cdf\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
           number(kW + kL + 10) + "\" height=\"" + number(kH + kB + kT) + "\" data-strategy=\"" +
           escape(strategy) + "\" data-runs=\"" + std::to_string(values.size()) + "\">";
    out += "<text x=\"" + number(kL) + "\" y=\"14\">" + escape(strategy) + " (" +
           std::to_string(values.size()) + " connected runs)</text>";
    const double y0 = kT + kH;
    out += "<line x1=\"" + number(kL) + "\" y1=\"" + number(y0) + "\" x2=\"" + number(kL + kW) +
           "\" y2=\"" + number(y0) + "\" stroke=\"#888\"/><line x1=\"" + number(kL) + "\" y1=\"" +
           number(kT) + "\" x2=\"" + number(kL) + "\" y2=\"" + number(y0) + "\" stroke=\"#888\"/>";
    for (int k = 0; k <= 4; ++k) {
      const double x = kL + kW * k / 4.0;
      out += "<text x=\"" + number(x - 8) + "\" y=\"" + number(y0 + 14) + "\">" +
             number(scale * k / 4.0) + "</text>";
      const double y = y0 - kH * k / 4.0;
      out += "<text x=\"4\" y=\"" + number(y + 4) + "\">" + number(k * 25.0) + "%</text>";
    }
    out += "<text x=\"" + number(kL + kW - 60) + "\" y=\"" + number(y0 + 27) + "\">setup ms</text>";
    if (!values.empty()) {
      std::string points = number(kL) + "," + number(y0);
      const std::size_t n = values.size();
      const std::size_t step = (n + kMaxCdfPoints - 1) / kMaxCdfPoints;
      for (std::size_t i = 0; i < n; i += step) {
        const std::size_t j = std::min(n - 1, i + step - 1);
        const double x = kL + kW * values[j] / scale;
        const double y = y0 - kH * static_cast<double>(j + 1) / static_cast<double>(n);
        points += " " + number(x, "%.1f") + "," +
                  number(y0 - kH * static_cast<double>(i) / static_cast<double>(n), "%.1f") + " " +
                  number(x, "%.1f") + "," + number(y, "%.1f");
      }
      out += "<polyline fill=\"none\" stroke=\"#2a6fb0\" stroke-width=\"2\" points=\"" + points +
             "\"/>";
    }
    out += "</svg>\n";
  }
}

}  // namespace

std::string render_html(const json& report) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      // Nothing may load from anywhere: the report is one file, read offline.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n<title>natsim "
      "bench-connect: " +
      text(get(get(report, "bench"), "name")) + "</title>\n<style>" + kStyle +
      "</style>\n</head>\n<body>\n";
  out += "<h1>natsim bench-connect: " + text(get(get(report, "bench"), "name")) + "</h1>\n";
  grids(out, report);
  population(out, report);
  cdfs(out, report);
  params(out, report);
  out += "<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace natsim::tools::bench
