/*
 * hf_event_types — the immutable table of event types.
 */
#include "hf_event_types.h"

#include <string.h>

const hf_event_type_t hf_event_types[] = {
    {"DonorRegistered", "donor_registered"},
    {"DonorEligibilityAssessed", "donor_eligibility_assessed"},
    {"DonationCollected", "donation_collected"},
    {"ScreeningResultRecorded", "screening_result_recorded"},
    {"ComponentProduced", "component_produced"},
    {"InventorySnapshot", "inventory_snapshot"},
    {"UnitMoved", "unit_moved"},
    {"UnitDiscarded", "unit_discarded"},
    {"TransfusionAdministered", "transfusion_administered"},
    {"AdverseEventReported", "adverse_event_reported"},
};

const size_t hf_event_types_count = sizeof(hf_event_types) / sizeof(hf_event_types[0]);

const hf_event_type_t *hf_event_type_find(const char *name)
{
    for (size_t i = 0; i < hf_event_types_count; i++)
        if (strcmp(hf_event_types[i].name, name) == 0 || strcmp(hf_event_types[i].snake, name) == 0)
            return &hf_event_types[i];
    return NULL;
}
