# data/: hardware profiles and law files, installed to $(pkgdatadir)/data.
nobase_dist_pkgdata_DATA += \
	data/README.md data/laws/joint_moe_ludziejewski2025.json \
	data/laws/chinchilla_hoffmann2022.json data/laws/chinchilla_epoch2024.json \
	data/hardware/rtx4090.json data/hardware/h100-sxm.json data/hardware/h200.json \
	data/hardware/8xh100.json data/hardware/gh200.json
nobase_dist_pkgdata_DATA += \
	data/runs/README.md \
	data/runs/epoch_chinchilla_svg_extracted_data.csv \
	data/runs/clark2022_routed_moe_runs_via_sldbench.csv \
	data/runs/misfitting_scaling_results_last_ckpt_only.csv
