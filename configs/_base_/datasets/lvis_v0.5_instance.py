# LVIS v0.5 instance segmentation (1230 classes), read from data/lvis_v0.5/:
#   annotations/lvis_v0.5_train.json, annotations/lvis_v0.5_val.json, train2017/, val2017/
# (v0.5 image paths come from file_name, relative to the split's image folder).
_base_ = './lvis_v1_instance.py'
dataset_type = 'IIFLVISV05Dataset'
data_root = 'data/lvis_v0.5/'
data = dict(
    train=dict(dataset=dict(type=dataset_type,
                            ann_file=data_root + 'annotations/lvis_v0.5_train.json',
                            img_prefix=data_root + 'train2017/')),
    val=dict(type=dataset_type, ann_file=data_root + 'annotations/lvis_v0.5_val.json',
             img_prefix=data_root + 'val2017/'),
    test=dict(type=dataset_type, ann_file=data_root + 'annotations/lvis_v0.5_val.json',
              img_prefix=data_root + 'val2017/'))
