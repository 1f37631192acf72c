"""What the kit evaluates: the LVIS IoU types (box AP and mask AP). The evaluator, the datasets,
the run records, the results table and the command-line choices take them from here."""

IOU_TYPES = ('bbox', 'segm')
