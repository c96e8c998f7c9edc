/*
 * specs.c - every request body the API decodes, in one table, for the fuzz
 * target (tests/fuzz/fuzz_api.c) to drive through api_decode().  A handler
 * file that adds a body kind adds its table here.
 */
#include "mgmt/api.h"

extern const struct api_fields api_login_spec, api_user_create_spec, api_user_update_spec,
	api_token_create_spec, api_volume_create_spec, api_volume_resize_spec,
	api_volume_copy_spec, api_target_create_spec, api_target_update_spec, api_lun_spec,
	api_portal_spec, api_discovery_spec, api_export_create_spec, api_export_update_spec,
	api_file_clone_spec, api_policy_create_spec, api_policy_update_spec,
	api_host_shares_spec, api_qos_settings_spec, api_vm_create_spec, api_vm_patch_spec,
	api_schedule_create_spec, api_schedule_patch_spec, api_schedule_preview_spec,
	api_volume_move_spec;

/* The order is the fuzz seeds' kind byte (tests/fuzz/seeds.py). */
const struct api_fields *const api_request_specs[] = {
	&api_name_spec,		   &api_rollback_spec,	     &api_login_spec,
	&api_user_create_spec,	   &api_user_update_spec,    &api_token_create_spec,
	&api_volume_create_spec,   &api_volume_resize_spec,  &api_volume_copy_spec,
	&api_target_create_spec,   &api_target_update_spec,  &api_lun_spec,
	&api_portal_spec,	   &api_discovery_spec,	     &api_export_create_spec,
	&api_export_update_spec,   &api_file_clone_spec,     &api_policy_create_spec,
	&api_policy_update_spec,   &api_host_shares_spec,    &api_qos_settings_spec,
	&api_vm_create_spec,	   &api_vm_patch_spec,	     &api_schedule_create_spec,
	&api_schedule_patch_spec,  &api_schedule_preview_spec, &api_volume_move_spec,
};
const size_t api_nrequest_specs = sizeof(api_request_specs) / sizeof(api_request_specs[0]);
