// Lineage end to end, both directions, through the pipeline's run records
// (see lineage_walk.cpp), and the graph form of a lineage tree.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace mlo {
class Repo;
}

namespace mlo::app {

// Extends the registry's lineage tree in place: upstream under a model
// version's run down to tracked data; downstream from a data root to every
// run and model version built from it. Marks each node's "relation" to its
// parent ("input" or "output").
void extend_lineage(Repo& repo, nlohmann::json& tree);

// {"nodes": [...], "edges": [{"from","to"}]}: every node once (key
// "KIND:ID"), every edge pointing downstream (data -> run -> data/version ->
// deployment -> monitor result).
nlohmann::json lineage_graph(const nlohmann::json& tree);

// Graphviz, from the graph: edges all point downstream.
std::string lineage_dot(const nlohmann::json& tree);

}  // namespace mlo::app
