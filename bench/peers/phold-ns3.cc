// PHOLD on ns-3's simulator core, the model of bench/phold.ts: LPS logical processes, PER_LP
// initial events per LP at Exp(1), each event sends one event to a uniformly random LP after
// LOOKAHEAD + Exp(1) time units (1 unit = 1 s of ns-3 time), run to END.
//
// Only ns-3's event list is exercised (Simulator::Schedule of a free function), no network
// objects: the figure is the discrete-event engine, which is what xennet's PHOLD measures.
//
// usage: phold-ns3 [LPS] [PER_LP] [END] [SCHEDULER] [SEED]
//   SCHEDULER: an ns-3 scheduler TypeId (ns3::MapScheduler, the default; ns3::HeapScheduler,
//   ns3::CalendarScheduler, ns3::PriorityQueueScheduler, ns3::ListScheduler).
// Prints one line with events= and events_per_s=.
#include "ns3/core-module.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace ns3;

namespace {

constexpr double kLookahead = 0.1;
uint32_t g_lps = 1024;
uint64_t g_events = 0;
Ptr<ExponentialRandomVariable> g_delay;
Ptr<UniformRandomVariable> g_target;

void Arrive(uint32_t lp) {
  (void)lp;  // every LP behaves alike: the count is what is measured
  ++g_events;
  uint32_t to = g_target->GetInteger(0, g_lps - 1);
  Simulator::Schedule(Seconds(kLookahead + g_delay->GetValue()), &Arrive, to);
}

}  // namespace

int main(int argc, char** argv) {
  g_lps = argc > 1 ? static_cast<uint32_t>(std::atoi(argv[1])) : 1024;
  uint32_t perLp = argc > 2 ? static_cast<uint32_t>(std::atoi(argv[2])) : 4;
  double end = argc > 3 ? std::atof(argv[3]) : 200.0;
  if (argc > 4 && std::string(argv[4]) != "") {
    ObjectFactory f;
    f.SetTypeId(argv[4]);
    Simulator::SetScheduler(f);
  }
  RngSeedManager::SetSeed(argc > 5 ? static_cast<uint32_t>(std::atoi(argv[5])) : 1);
  g_delay = CreateObject<ExponentialRandomVariable>();
  g_delay->SetAttribute("Mean", DoubleValue(1.0));
  g_target = CreateObject<UniformRandomVariable>();

  for (uint32_t lp = 0; lp < g_lps; ++lp) {
    for (uint32_t k = 0; k < perLp; ++k) Simulator::Schedule(Seconds(g_delay->GetValue()), &Arrive, lp);
  }
  Simulator::Stop(Seconds(end));
  auto t0 = std::chrono::steady_clock::now();
  Simulator::Run();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Simulator::Destroy();
  std::printf("ns-3 phold LPs=%u per_lp=%u end=%g events=%llu wall_s=%.3f events_per_s=%.0f\n", g_lps, perLp, end,
              static_cast<unsigned long long>(g_events), wall, g_events / wall);
  return 0;
}
